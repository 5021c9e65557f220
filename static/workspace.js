/* The labelling workspace's keyboard and form behaviour. No inline script anywhere (CSP).
 *
 * Answering with one key per answer, conditional questions, exclusive choices, the "Keys"
 * panel and focus after a swap come from answer_keys.js, shared with the adjudication page.
 * Enter submits (htmx swaps in the next comment). Every change autosaves through htmx
 * (hx-trigger on .autosave); this file adds what the workspace has beyond that: its own keys
 * (previous comment, flag, skip, report a wrong parent), the stance target of the active
 * question, time spent on the comment, and waiting for an autosave before moving on.
 */
(function () {
  "use strict";

  var shownAt = Date.now();
  var hiddenSince = null;
  var hiddenTotal = 0;
  var unsent = false; // the label form changed since its last save was sent
  var inFlight = 0; // saves of the label form sent and not answered yet
  var refused = false; // the last of them was refused (conflict, error)
  var move = null; // going to another comment, once they are done

  function form() { return document.getElementById("label-form"); }

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

  // The wrong-parent report form, once "r" loaded it, takes the keys first.
  function reportKeys(event) {
    var report = document.querySelector("#report-slot .report-form");
    if (!report) { return false; }
    if (event.key === "Escape") {
      report.remove();
      answerKeys.refocus();
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

  function toggleFlag() {
    var flag = document.getElementById("flagged");
    flag.checked = !flag.checked;
    flag.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function openSkip() {
    var skip = document.getElementById("skip");
    skip.open = true;
    document.getElementById("skip-reason").focus();
    return true;
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
    unsent = false;
    inFlight = 0;
    move = null;
    shownAt = Date.now();
    hiddenTotal = 0;
    hiddenSince = document.hidden ? shownAt : null;
    // On a narrow screen the article would push the questions out of view: start it closed.
    var article = document.getElementById("target-article");
    if (article && window.matchMedia("(max-width: 900px)").matches) { article.open = false; }
  }

  var answerKeys = window.AnswerKeys.attach({
    formId: "label-form",
    pageId: "workspace",
    submitId: "submit-button",
    noteId: "note",
    clicks: { "[": "previous-comment", r: "report-parent-button" },
    keys: { f: toggleFlag, s: openSkip },
    fieldEnter: { "skip-reason": "skip-button" },
    firstKeys: reportKeys,
    onActive: highlightTarget,
    onSetUp: setUp,
    onOverwrite: function (revision) {
      // Take the other save's revision and save again.
      document.getElementById("revision").value = revision;
      var autosave = document.querySelector("#label-form .autosave");
      if (autosave && window.htmx) { window.htmx.trigger(autosave, "change"); }
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("#label-form .autosave")) { unsent = true; }
  });

  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#label-form .autosave")) { unsent = true; }
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
    if (target && target.id === "report-slot") {
      var choice = target.querySelector(".report-form input:checked, .report-form input");
      if (choice) { choice.focus(); }
    }
  });

  // A report form that was answered comes back as a confirmation: go back to the questions.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.classList && target.classList.contains("report-form")) { answerKeys.refocus(); }
  });
})();
