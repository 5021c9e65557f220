/* Answering questions with one key each, shared by the labelling workspace (workspace.js) and
 * the adjudication page (review.js). Plain browser script loaded before the page's own script;
 * no inline script anywhere (CSP).
 *
 * One question is "active" at a time (highlighted). A choice key (shown beside each answer)
 * answers the active question; a one-answer question then moves on to the next shown
 * question. Enter clicks the page's submit button; "?" shows the page's "Keys" panel. Questions
 * shown only when another answer holds (data-show-if) follow the answers, an exclusive choice
 * ("None") stands alone, and after htmx swaps in the next comment the first unanswered question
 * takes the focus. Each page says what differs through the options of AnswerKeys.attach.
 */
(function () {
  "use strict";

  // Where keys type text rather than answer: Escape leaves them, Enter may submit.
  var TEXT_FIELDS = "textarea, input[type=text], input[type=number], select";

  function has(map, key) { return Object.prototype.hasOwnProperty.call(map, key); }

  /* Wires the keys of one page and returns what the page's own script may call.
   *
   * options:
   *   formId          the form holding the questions ("label-form")
   *   pageId          the element htmx swaps for the next comment; its data-title is the title
   *   submitId        the button Enter clicks
   *   noteId          the note field "t" focuses
   *   row             selector of the element around a question that hides with it and is
   *                   highlighted (a table row); the question's fieldset itself when absent
   *   clicks          more keys, each clicking the element with that id ({"[": "previous-comment"})
   *   keys            more keys, each a function returning whether it handled the key
   *   fieldEnter      Enter in the text field with that id clicks this button instead of submitId
   *   firstKeys       function(event) given every key outside text fields first (a small open
   *                   form's own keys); returns whether it handled the key
   *   onActive        function(fieldset) after a question becomes the active one
   *   onSetUp         function() when a comment is shown, before its questions are set up
   *   onOverwrite     function(revision) when the person chooses to overwrite a conflicting save
   */
  function attach(options) {
    var active = 0;
    var clicks = Object.assign({ "]": "next-comment", g: "guidelines-link" }, options.clicks);
    var keys = options.keys || {};
    var fieldEnter = options.fieldEnter || {};

    function form() { return document.getElementById(options.formId); }

    function rowOf(fieldset) {
      return (options.row && fieldset.closest(options.row)) || fieldset;
    }

    function questions() {
      var f = form();
      if (!f) { return []; }
      return Array.prototype.slice.call(f.querySelectorAll("fieldset.question")).filter(function (q) {
        return !rowOf(q).hidden;
      });
    }

    function isAnswered(fieldset) {
      var text = fieldset.querySelector("input[type=text]");
      if (text) { return text.value.trim() !== ""; }
      return fieldset.querySelector("input:checked") !== null;
    }

    function highlight(list) {
      list.forEach(function (q, i) { rowOf(q).classList.toggle("is-active", i === active); });
    }

    function focusQuestion(index) {
      var list = questions();
      if (!list.length) { return; }
      active = Math.max(0, Math.min(index, list.length - 1));
      highlight(list);
      var fieldset = list[active];
      var input = fieldset.querySelector("input:checked") || fieldset.querySelector("input");
      if (input) { input.focus({ preventScroll: true }); }
      rowOf(fieldset).scrollIntoView({ block: "nearest" });
      if (options.onActive) { options.onActive(fieldset); }
    }

    function refocus() { focusQuestion(active); }

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
      // Only answers: a checkbox in no question (the workspace's "flag for review") is left be.
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

    // A click, not form.requestSubmit(button): htmx learns the submitter (and so posts its
    // name=value, e.g. action=skip) only from a click or focus on the button.
    function submit(buttonId) { click(buttonId || options.submitId); }

    function toggleShortcuts() {
      var panel = document.getElementById("shortcuts");
      var button = document.getElementById("shortcuts-button");
      if (!panel) { return; }
      panel.hidden = !panel.hidden;
      if (button) { button.setAttribute("aria-expanded", String(!panel.hidden)); }
    }

    function onTypingKey(event, target) {
      if (event.key === "Escape") {
        target.blur();
        refocus();
        event.preventDefault();
      } else if (event.key === "Enter" && has(fieldEnter, target.id)) {
        event.preventDefault();
        submit(fieldEnter[target.id]);
      } else if (event.key === "Enter" && target.closest("fieldset.question")) {
        event.preventDefault();
        submit();
      }
    }

    function onKey(event) {
      if (!form() || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
      var target = event.target;
      var typing = target.closest && target.closest(TEXT_FIELDS);
      if (typing) {
        onTypingKey(event, target);
        return;
      }
      if (options.firstKeys && options.firstKeys(event)) {
        event.preventDefault();
        event.stopPropagation();
        return;
      }
      var handled = true;
      if (event.key === "Enter") {
        if (target.closest("a, button, summary")) {
          handled = false;
        } else {
          submit();
        }
      } else if (event.key === "?") {
        toggleShortcuts();
      } else if (event.key === "a") {
        var article = document.getElementById("target-article");
        if (article) { article.open = !article.open; }
      } else if (event.key === "t") {
        document.getElementById(options.noteId).focus();
      } else if (has(keys, event.key)) {
        handled = keys[event.key](event);
      } else if (has(clicks, event.key)) {
        handled = click(clicks[event.key]);
      } else {
        handled = event.key.length === 1 && answerWithKey(event.key);
      }
      if (handled) {
        event.preventDefault();
        event.stopPropagation(); // app.js's generic "?" hint and hotkeys are not for these pages
      }
    }

    function setUp() {
      if (!form()) { return; }
      if (options.onSetUp) { options.onSetUp(); }
      updateConditions();
      questions().forEach(markChecked);
      focusQuestion(firstUnanswered());
      var page = document.getElementById(options.pageId);
      if (page && page.dataset.title) { document.title = page.dataset.title; }
    }

    window.addEventListener("keydown", onKey, true);

    // The browser's Back and Forward reload a comment from the server. htmx's history snapshot
    // (which the page opts out of with hx-history="false") keeps the page as first loaded:
    // without the answers given since.
    if (window.htmx) { window.htmx.config.refreshOnHistoryMiss = true; }

    document.addEventListener("change", function (event) {
      var input = event.target;
      if (!input.closest || !input.closest("#" + options.formId)) { return; }
      applyExclusive(input);
      var fieldset = input.closest("fieldset.question");
      if (fieldset) { markChecked(fieldset); }
      updateConditions();
    });

    // Clicking or tabbing into a question makes it the active one.
    document.addEventListener("focusin", function (event) {
      var inForm = "#" + options.formId + " fieldset.question";
      var fieldset = event.target.closest && event.target.closest(inForm);
      if (!fieldset) { return; }
      var list = questions();
      var index = list.indexOf(fieldset);
      if (index >= 0 && index !== active) {
        active = index;
        highlight(list);
        if (options.onActive) { options.onActive(fieldset); }
      }
    });

    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-overwrite-revision]");
      if (button) {
        // The person chose to overwrite the other save: the page saves again from its revision.
        options.onOverwrite(button.dataset.overwriteRevision);
        return;
      }
      if (event.target.closest("#shortcuts-button")) { toggleShortcuts(); }
    });

    document.addEventListener("htmx:afterSettle", function (event) {
      var target = event.detail.target;
      if (target && target.id === options.pageId) { setUp(); }
    });

    document.addEventListener("DOMContentLoaded", setUp);

    return { click: click, refocus: refocus };
  }

  window.AnswerKeys = { attach: attach };
})();
