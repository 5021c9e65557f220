/* The labelling workspace's keyboard and form behaviour. No inline script anywhere (CSP).
 *
 * One question is "active" at a time (highlighted). A choice key (shown beside each answer)
 * answers the active question; a one-answer question then moves on to the next shown
 * question. Enter submits (htmx swaps in the next comment); other keys are listed in the
 * page's "Keys" panel. Every change autosaves through htmx (hx-trigger on .autosave); this
 * file only adds what htmx cannot: keys, conditional questions, exclusive choices, focus
 * after a swap, time spent on the comment.
 */
(function () {
  "use strict";

  var active = 0;
  var shownAt = Date.now();
  var hiddenSince = null;
  var hiddenTotal = 0;
  var unsent = false; // the label form changed since its last save was sent
  var inFlight = 0; // saves of the label form sent and not answered yet
  var refused = false; // the last of them was refused (conflict, error)
  var move = null; // going to another comment, once they are done

  function form() { return document.getElementById("label-form"); }

  function questions() {
    var f = form();
    return f ? Array.prototype.slice.call(f.querySelectorAll("fieldset.question:not([hidden])")) : [];
  }

  function isAnswered(fieldset) {
    var text = fieldset.querySelector("input[type=text]");
    if (text) { return text.value.trim() !== ""; }
    return fieldset.querySelector("input:checked") !== null;
  }

  function focusQuestion(index) {
    var list = questions();
    if (!list.length) { return; }
    active = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (q, i) { q.classList.toggle("is-active", i === active); });
    var fieldset = list[active];
    var input = fieldset.querySelector("input:checked") || fieldset.querySelector("input");
    if (input) { input.focus({ preventScroll: true }); }
    fieldset.scrollIntoView({ block: "nearest" });
    highlightTarget(fieldset);
  }

  function highlightTarget(fieldset) {
    var target = fieldset && fieldset.querySelector(".q-target a");
    document.querySelectorAll(".target.is-current-target").forEach(function (el) {
      el.classList.remove("is-current-target");
    });
    if (target) {
      var el = document.querySelector(target.getAttribute("href"));
      if (el) { el.classList.add("is-current-target"); }
    }
  }

  function firstUnanswered() {
    var list = questions();
    for (var i = 0; i < list.length; i++) {
      if (!isAnswered(list[i])) { return i; }
    }
    return 0;
  }

  // Questions shown only when another answer holds (data-show-if / data-show-if-values).
  function updateConditions() {
    var f = form();
    if (!f) { return; }
    f.querySelectorAll("fieldset[data-show-if]").forEach(function (fieldset) {
      var wanted = fieldset.dataset.showIfValues.split(" ");
      var answers = Array.prototype.map.call(
        f.querySelectorAll("[name='" + fieldset.dataset.showIf + "']:checked"),
        function (input) { return input.value; }
      );
      var shown = answers.some(function (value) { return wanted.indexOf(value) >= 0; });
      fieldset.hidden = !shown;
      fieldset.disabled = !shown; // hidden answers are not posted
    });
  }

  function markChecked(fieldset) {
    fieldset.querySelectorAll("label.choice").forEach(function (label) {
      var input = label.querySelector("input");
      label.classList.toggle("is-checked", Boolean(input && input.checked));
    });
  }

  // "None" in a multiple choice stands alone.
  function applyExclusive(input) {
    // Only answers: the "flag for review" checkbox is in no question.
    var fieldset = input.closest("fieldset.question");
    if (!fieldset || input.type !== "checkbox" || !input.checked) { return; }
    fieldset.querySelectorAll("input[type=checkbox]").forEach(function (other) {
      if (other === input) { return; }
      if (input.hasAttribute("data-exclusive") || other.hasAttribute("data-exclusive")) {
        other.checked = false;
      }
    });
  }

  function answerWithKey(key) {
    var fieldset = questions()[active];
    if (!fieldset) { return false; }
    var input = Array.prototype.find.call(
      fieldset.querySelectorAll("input[data-key]"),
      function (candidate) { return candidate.dataset.key.toLowerCase() === key.toLowerCase(); }
    );
    if (!input) { return false; }
    if (input.type === "checkbox") {
      input.checked = !input.checked;
    } else {
      input.checked = true;
    }
    input.dispatchEvent(new Event("change", { bubbles: true }));
    if (input.type === "radio") {
      // Conditions may have shown a new question right after this one: recount.
      var list = questions();
      focusQuestion(Math.min(list.indexOf(fieldset) + 1, list.length - 1));
    } else {
      input.focus({ preventScroll: true });
    }
    return true;
  }

  function click(id) {
    var el = document.getElementById(id);
    if (el) { el.click(); }
    return Boolean(el);
  }

  function toggleShortcuts() {
    var panel = document.getElementById("shortcuts");
    var button = document.getElementById("shortcuts-button");
    if (!panel) { return; }
    panel.hidden = !panel.hidden;
    if (button) { button.setAttribute("aria-expanded", String(!panel.hidden)); }
  }

  // A click, not form.requestSubmit(button): htmx learns the submitter (and so posts its
  // name=value, e.g. action=skip) only from a click or focus on the button.
  function submit(buttonId) {
    var f = form();
    var button = document.getElementById(buttonId || "submit-button");
    if (f && button) { button.click(); }
  }

  function reportKeys(event) {
    var report = document.querySelector("#report-slot .report-form");
    if (!report) { return false; }
    if (event.key === "Escape") {
      report.remove();
      focusQuestion(active);
      return true;
    }
    if (event.key === "Enter") {
      report.requestSubmit();
      return true;
    }
    var choice = report.querySelector("input[data-key='" + CSS.escape(event.key) + "']");
    if (choice) {
      choice.checked = true;
      report.requestSubmit();
      return true;
    }
    return false;
  }

  function onKey(event) {
    if (!form() || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    var target = event.target;
    var typing = target.closest && target.closest("textarea, input[type=text], input[type=number], select");
    if (typing) {
      if (event.key === "Escape") {
        target.blur();
        focusQuestion(active);
        event.preventDefault();
      } else if (event.key === "Enter" && target.id === "skip-reason") {
        event.preventDefault();
        submit("skip-button");
      } else if (event.key === "Enter" && target.closest("fieldset.question")) {
        event.preventDefault();
        submit();
      }
      return;
    }
    if (reportKeys(event)) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    var handled = true;
    switch (event.key) {
      case "Enter":
        if (target.closest("a, button, summary")) { handled = false; break; }
        submit();
        break;
      case "?": toggleShortcuts(); break;
      case "[": handled = click("previous-comment"); break;
      case "]": handled = click("next-comment"); break;
      case "g": handled = click("guidelines-link"); break;
      case "r": handled = click("report-parent-button"); break;
      case "a": {
        var article = document.getElementById("target-article");
        if (article) { article.open = !article.open; }
        break;
      }
      case "f": {
        var flag = document.getElementById("flagged");
        flag.checked = !flag.checked;
        flag.dispatchEvent(new Event("change", { bubbles: true }));
        break;
      }
      case "t": document.getElementById("note").focus(); break;
      case "s": {
        var skip = document.getElementById("skip");
        skip.open = true;
        document.getElementById("skip-reason").focus();
        break;
      }
      default:
        handled = event.key.length === 1 && answerWithKey(event.key);
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation(); // app.js's generic "?" hint is not for this page
    }
  }

  function elapsedMs() {
    var now = Date.now();
    var hidden = hiddenTotal + (hiddenSince ? now - hiddenSince : 0);
    var elapsed = Math.max(0, now - shownAt - hidden);
    shownAt = now;
    hiddenTotal = 0;
    hiddenSince = document.hidden ? now : null;
    return elapsed;
  }

  function setUp() {
    if (!form()) { return; }
    unsent = false;
    inFlight = 0;
    move = null;
    shownAt = Date.now();
    hiddenTotal = 0;
    hiddenSince = document.hidden ? shownAt : null;
    updateConditions();
    questions().forEach(markChecked);
    // On a narrow screen the article would push the questions out of view: start it closed.
    var article = document.getElementById("target-article");
    if (article && window.matchMedia("(max-width: 900px)").matches) { article.open = false; }
    focusQuestion(firstUnanswered());
    var workspace = document.getElementById("workspace");
    if (workspace && workspace.dataset.title) { document.title = workspace.dataset.title; }
  }

  window.addEventListener("keydown", onKey, true);

  // The browser's Back and Forward reload a comment from the server. htmx's history snapshot
  // (which #workspace opts out of with hx-history="false") keeps the page as first loaded:
  // without the answers given since, and the next autosave would drop them.
  if (window.htmx) { window.htmx.config.refreshOnHistoryMiss = true; }

  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("#label-form .autosave")) { unsent = true; }
  });

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.closest || !input.closest("#label-form")) { return; }
    if (input.closest("#label-form .autosave")) { unsent = true; }
    applyExclusive(input);
    var fieldset = input.closest("fieldset.question");
    if (fieldset) { markChecked(fieldset); }
    updateConditions();
  });

  // Clicking or tabbing into a question makes it the active one.
  document.addEventListener("focusin", function (event) {
    var fieldset = event.target.closest && event.target.closest("fieldset.question");
    if (!fieldset) { return; }
    var index = questions().indexOf(fieldset);
    if (index >= 0 && index !== active) {
      active = index;
      questions().forEach(function (q, i) { q.classList.toggle("is-active", i === active); });
      highlightTarget(fieldset);
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-overwrite-revision]");
    if (button) {
      // The person chose to overwrite the other save: take its revision and save again.
      document.getElementById("revision").value = button.dataset.overwriteRevision;
      var autosave = document.querySelector("#label-form .autosave");
      if (autosave && window.htmx) { window.htmx.trigger(autosave, "change"); }
      return;
    }
    if (event.target.closest("#shortcuts-button")) { toggleShortcuts(); }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      hiddenSince = Date.now();
    } else if (hiddenSince) {
      hiddenTotal += Date.now() - hiddenSince;
      hiddenSince = null;
    }
  });

  // Time spent on the comment goes with every save of the label form.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.closest && elt.closest("#label-form") && event.detail.verb === "post") {
      event.detail.parameters.elapsed_ms = String(elapsedMs());
    }
  });

  // Going to another comment (Previous/Next, "Back to it") waits for the autosave of what was
  // just changed: an autosave still waiting for its pause would be dropped with the old form,
  // and the answer to one still under way would land in the next comment's form (its revision).
  function isSave(event) {
    var elt = event.detail.elt;
    return Boolean(elt && elt.closest && elt.closest("#label-form"));
  }

  function moveWhenSaved() {
    if (!move || unsent || inFlight) { return; }
    var go = move;
    move = null;
    if (!refused) { go(); } // a refused save stays on screen, with the answers it is about
  }

  document.addEventListener("htmx:confirm", function (event) {
    var detail = event.detail;
    if (detail.verb !== "get" || !detail.target || detail.target.id !== "workspace") { return; }
    if (!unsent && !inFlight) { return; }
    event.preventDefault();
    move = function () { detail.issueRequest(true); };
    var autosave = document.querySelector("#label-form .autosave");
    if (unsent && autosave && window.htmx) { window.htmx.trigger(autosave, "change"); }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!isSave(event)) { return; }
    unsent = false;
    inFlight += 1;
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!isSave(event)) { return; }
    inFlight = Math.max(0, inFlight - 1);
    var xhr = event.detail.xhr;
    refused = !xhr || xhr.status < 200 || xhr.status >= 300;
    moveWhenSaved();
  });

  // Leaving the page (a link, closing the tab) while a change waits for its autosave pause:
  // send it anyway. The form carries its CSRF token and revision, so the save is as safe as
  // any other; a conflict is simply not applied.
  window.addEventListener("pagehide", function () {
    var f = form();
    if (!f || !unsent || !navigator.sendBeacon) { return; }
    var data = new FormData(f);
    data.set("action", "autosave");
    data.set("elapsed_ms", String(elapsedMs()));
    navigator.sendBeacon(f.getAttribute("action"), data);
    unsent = false;
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.id === "workspace") { setUp(); }
    if (target && target.id === "report-slot") {
      var choice = target.querySelector(".report-form input:checked, .report-form input");
      if (choice) { choice.focus(); }
    }
  });

  // A report form that was answered comes back as a confirmation: go back to the questions.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.classList && target.classList.contains("report-form")) { focusQuestion(active); }
  });

  document.addEventListener("DOMContentLoaded", setUp);
})();
