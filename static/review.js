/* The adjudication page's keyboard: set gold answers with one key each. No inline script (CSP).
 *
 * Mirrors the labelling workspace (workspace.js): one question is "active" (highlighted); a
 * choice key (shown beside each gold answer) answers it, and a one-answer question moves on
 * to the next shown question. Enter saves the gold label and htmx swaps in the next comment
 * of the queue; "]" moves on without saving. No autosave: gold is a decision, made with Enter.
 */
(function () {
  "use strict";

  var active = 0;

  function form() { return document.getElementById("gold-form"); }

  function questions() {
    var f = form();
    if (!f) { return []; }
    return Array.prototype.slice.call(f.querySelectorAll("fieldset.question")).filter(function (q) {
      var row = q.closest("tr");
      return !(row && row.hidden);
    });
  }

  function rowOf(fieldset) { return fieldset.closest("tr") || fieldset; }

  function isAnswered(fieldset) {
    var text = fieldset.querySelector("input[type=text]");
    if (text) { return text.value.trim() !== ""; }
    return fieldset.querySelector("input:checked") !== null;
  }

  function focusQuestion(index) {
    var list = questions();
    if (!list.length) { return; }
    active = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (q, i) { rowOf(q).classList.toggle("is-active", i === active); });
    var fieldset = list[active];
    var input = fieldset.querySelector("input:checked") || fieldset.querySelector("input");
    if (input) { input.focus({ preventScroll: true }); }
    rowOf(fieldset).scrollIntoView({ block: "nearest" });
  }

  function firstUnanswered() {
    var list = questions();
    for (var i = 0; i < list.length; i++) {
      if (!isAnswered(list[i])) { return i; }
    }
    return 0;
  }

  // Questions shown only when another gold answer holds (data-show-if / data-show-if-values).
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
      rowOf(fieldset).hidden = !shown;
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
      var list = questions(); // a condition may have shown the next question
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

  function onKey(event) {
    if (!form() || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    var target = event.target;
    var typing = target.closest && target.closest("textarea, input[type=text], select");
    if (typing) {
      if (event.key === "Escape") {
        target.blur();
        focusQuestion(active);
        event.preventDefault();
      } else if (event.key === "Enter" && target.closest("fieldset.question")) {
        event.preventDefault();
        click("save-gold");
      }
      return;
    }
    var handled = true;
    switch (event.key) {
      case "Enter":
        if (target.closest("a, button, summary")) { handled = false; break; }
        click("save-gold");
        break;
      case "?": toggleShortcuts(); break;
      case "]": handled = click("next-comment"); break;
      case "g": handled = click("guidelines-link"); break;
      case "a": {
        var article = document.getElementById("target-article");
        if (article) { article.open = !article.open; }
        break;
      }
      case "t": document.getElementById("gold-note").focus(); break;
      default:
        handled = event.key.length === 1 && answerWithKey(event.key);
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation(); // app.js's generic "?" hint and hotkeys are not for this page
    }
  }

  function setUp() {
    if (!form()) { return; }
    updateConditions();
    questions().forEach(markChecked);
    focusQuestion(firstUnanswered());
    var page = document.getElementById("adjudication");
    if (page && page.dataset.title) { document.title = page.dataset.title; }
  }

  window.addEventListener("keydown", onKey, true);
  if (window.htmx) { window.htmx.config.refreshOnHistoryMiss = true; }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.closest || !input.closest("#gold-form")) { return; }
    applyExclusive(input);
    var fieldset = input.closest("fieldset.question");
    if (fieldset) { markChecked(fieldset); }
    updateConditions();
  });

  document.addEventListener("focusin", function (event) {
    var fieldset = event.target.closest && event.target.closest("#gold-form fieldset.question");
    if (!fieldset) { return; }
    var index = questions().indexOf(fieldset);
    if (index >= 0 && index !== active) {
      active = index;
      questions().forEach(function (q, i) { rowOf(q).classList.toggle("is-active", i === active); });
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-overwrite-revision]");
    if (button) {
      // The reviewer chose to overwrite the other gold label: take its revision, save again.
      document.getElementById("gold-revision").value = button.dataset.overwriteRevision;
      click("save-gold");
      return;
    }
    if (event.target.closest("#shortcuts-button")) { toggleShortcuts(); }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.id === "adjudication") { setUp(); }
  });

  document.addEventListener("DOMContentLoaded", setUp);
})();
