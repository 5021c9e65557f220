/* Answering questions with one key each, shared by the labelling workspace (workspace.js) and
 * the adjudication page (review.js). Plain browser script loaded before the page's own script;
 * no inline script anywhere (CSP).
 *
 * One question is "active" (highlighted, with the focus on one of its answers). A choice key
 * (shown beside each answer) answers it; a one-answer question then moves on to the next shown
 * question. Down/Up move between questions and Backspace clears the active one; Space and the
 * arrow keys never change an answer (the browser's radio buttons would: Space ticks the
 * focused one, an arrow picks its neighbour). Enter clicks the page's submit button. "?" opens
 * the page's "Keys" panel. Panels (the <dialog class="panel"> elements: keys, skip, report)
 * open in the middle of the screen with the focus inside, close with Esc and give the focus
 * back where it was; while one is open the page's keys are off. Questions shown only when
 * another answer holds (data-show-if) follow the answers and the shown ones are numbered 1, 2,
 * 3... An exclusive choice ("None") stands alone. After htmx swaps in the next comment the
 * first unanswered question takes the focus, without scrolling the window. Each page says what
 * differs through the options of AnswerKeys.attach.
 */
(function () {
  "use strict";

  // Where keys type text rather than answer: Escape leaves them, Enter may submit.
  var TEXT_FIELDS = "textarea, input[type=text], input[type=number], select";

  function has(map, key) { return Object.prototype.hasOwnProperty.call(map, key); }

  function openDialog() { return document.querySelector("dialog[open]"); }

  /* Scroll ``el`` into view inside the scrolling column that holds it (the sticky form
   * column), never the window: scrolling the window would hide the page's top bar. Where the
   * column does not scroll (one column on a phone) the window scrolls only if ``el`` is out
   * of view. */
  function scrollIntoColumn(el) {
    var column = el.closest("[data-scroll-column]");
    if (column && column.scrollHeight > column.clientHeight + 1 &&
        getComputedStyle(column).overflowY !== "visible") {
      var box = el.getBoundingClientRect();
      var rect = column.getBoundingClientRect();
      var frame = { top: Math.max(rect.top, 0), bottom: Math.min(rect.bottom, window.innerHeight) };
      // What stays pinned at the column's foot (the save status) covers the rest.
      var footer = column.querySelector("[data-column-footer]");
      if (footer && !footer.contains(el)) {
        frame.bottom = Math.min(frame.bottom, frame.bottom - footer.getBoundingClientRect().height);
      }
      if (box.top < frame.top) {
        column.scrollTop -= frame.top - box.top + 8;
      } else if (box.bottom > frame.bottom) {
        column.scrollTop += Math.min(box.bottom - frame.bottom + 8, box.top - frame.top - 8);
      }
      return;
    }
    var rect = el.getBoundingClientRect();
    if (rect.top < 0 || rect.bottom > window.innerHeight) { el.scrollIntoView({ block: "nearest" }); }
  }

  /* Open a panel (a <dialog>) as a modal: in view, focus inside (on ``focusEl`` if given),
   * Esc closes it, and the focus goes back to what had it before (see the "close" listener). */
  function openPanel(dialog, focusEl) {
    if (!dialog) { return false; }
    if (!dialog.open) {
      dialog.returnFocusTo = document.activeElement;
      dialog.showModal();
    }
    var target = focusEl || dialog.querySelector("input:not([type=hidden]), button, [tabindex]");
    if (target) { target.focus(); }
    return true;
  }

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
   *   beforeKeys      function(event) given every key first, even in text fields and panels
   *                   (the workspace holds keys typed while the next comment loads); returns
   *                   whether it took the key
   *   panelKeys       function(event, dialog) given the keys pressed while a panel is open
   *                   (the report form's digits); returns whether it handled the key
   *   onActive        function(fieldset) after a question becomes the active one
   *   onSetUp         function() when a comment is shown, before its questions are set up
   *   onReady         function() when a comment is shown and its first question has the focus
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
      scrollIntoColumn(rowOf(fieldset));
      if (options.onActive) { options.onActive(fieldset); }
    }

    function refocus() { focusQuestion(active); }

    // A model's pre-selected answer (data-preselected) is not the person's until they answer
    // that question themselves: the focus starts there, so keys land where they are meant.
    function firstUnanswered() {
      var list = questions();
      for (var i = 0; i < list.length; i++) {
        if (!isAnswered(list[i]) || list[i].hasAttribute("data-preselected")) { return i; }
      }
      return 0;
    }

    // Number the questions shown 1, 2, 3... (the server numbers them the same way).
    function renumber() {
      var f = form();
      if (!f) { return; }
      var shown = 0;
      f.querySelectorAll("fieldset.question").forEach(function (fieldset) {
        var number = fieldset.querySelector(".q-number");
        if (!number) { return; }
        if (rowOf(fieldset).hidden) {
          number.textContent = "";
        } else {
          shown += 1;
          number.textContent = String(shown);
        }
      });
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
      renumber();
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

    // Backspace: the active question has no answer any more (and that is saved like any change).
    function clearActive() {
      var fieldset = questions()[active];
      if (!fieldset) { return false; }
      var changed = null;
      fieldset.querySelectorAll("input").forEach(function (input) {
        if ((input.type === "radio" || input.type === "checkbox") && input.checked) {
          input.checked = false;
          changed = input;
        } else if (input.type === "text" && input.value !== "") {
          input.value = "";
          changed = input;
        }
      });
      if (changed) { changed.dispatchEvent(new Event("change", { bubbles: true })); }
      focusQuestion(active);
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
      if (!panel) { return; }
      if (panel.open) { panel.close(); } else { openPanel(panel); }
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

    // Keys while a panel is open: its own keys, Enter in its text field; the rest is the
    // browser's (Esc closes the dialog, Tab stays inside it).
    function onPanelKey(event, dialog) {
      if (options.panelKeys && options.panelKeys(event, dialog)) { return true; }
      var target = event.target;
      if (event.key === "?" && dialog.id === "shortcuts") {
        dialog.close();
        return true;
      }
      if (event.key === "Enter" && target.closest && target.closest(TEXT_FIELDS) &&
          has(fieldEnter, target.id)) {
        submit(fieldEnter[target.id]);
        return true;
      }
      return false;
    }

    // Space, Page Down and the arrows on an answer: scroll or move between questions, never
    // change the answer.
    function onNavigationKey(event, target) {
      var onAnswer = target.closest && target.closest("#" + options.formId + " fieldset.question");
      if (!onAnswer) { return false; }
      if (event.key === " ") {
        window.scrollBy({ top: (event.shiftKey ? -0.8 : 0.8) * window.innerHeight });
        return true;
      }
      if (event.key === "ArrowDown") { focusQuestion(active + 1); return true; }
      if (event.key === "ArrowUp") { focusQuestion(active - 1); return true; }
      return event.key === "ArrowLeft" || event.key === "ArrowRight";
    }

    function handle(event) {
      var target = event.target;
      var dialog = openDialog();
      if (dialog) { return onPanelKey(event, dialog); }
      var typing = target.closest && target.closest(TEXT_FIELDS);
      if (typing) {
        onTypingKey(event, target);
        return false;
      }
      if (onNavigationKey(event, target)) { return true; }
      var handled = true;
      if (event.key === "Enter") {
        if (target.closest && target.closest("a, button, summary")) {
          handled = false;
        } else {
          submit();
        }
      } else if (event.key === "Backspace" || event.key === "Delete") {
        handled = clearActive();
      } else if (event.key === "?") {
        toggleShortcuts();
      } else if (event.key === "a") {
        var article = document.getElementById("target-article");
        if (article) { article.open = !article.open; }
      } else if (event.key === "t") {
        var note = document.getElementById(options.noteId);
        note.focus({ preventScroll: true });
        scrollIntoColumn(note);
      } else if (has(keys, event.key)) {
        handled = keys[event.key](event);
      } else if (has(clicks, event.key)) {
        handled = click(clicks[event.key]);
      } else {
        handled = event.key.length === 1 && answerWithKey(event.key);
      }
      return handled;
    }

    function onKey(event) {
      if (!form() || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
      var taken = (options.beforeKeys && options.beforeKeys(event)) || handle(event);
      if (taken) {
        event.preventDefault();
        event.stopPropagation(); // app.js's generic "?" hint and hotkeys are not for these pages
      }
    }

    /* Act on ``key`` as if it were pressed now, where the focus is: for keys typed while the
     * next comment loaded, replayed once it is there. */
    function press(key) {
      var target = document.activeElement || document.body;
      if (key.length === 1 && target.closest && target.closest(TEXT_FIELDS) && !openDialog()) {
        target.value += key; // typed ahead into the note ("t" then words)
        target.dispatchEvent(new Event("input", { bubbles: true }));
        return true;
      }
      var event = {
        key: key, target: target, shiftKey: false,
        preventDefault: function () {}, stopPropagation: function () {}
      };
      return handle(event);
    }

    function setUp() {
      if (!form()) { return; }
      if (options.onSetUp) { options.onSetUp(); }
      updateConditions();
      questions().forEach(markChecked);
      focusQuestion(firstUnanswered());
      var page = document.getElementById(options.pageId);
      if (page && page.dataset.title) { document.title = page.dataset.title; }
      if (options.onReady) { options.onReady(); }
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
      if (fieldset) {
        markChecked(fieldset);
        fieldset.removeAttribute("data-preselected"); // answered by the person now
      }
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
      var closer = event.target.closest("[data-close-dialog]");
      if (closer && closer.closest("dialog")) { closer.closest("dialog").close(); }
    });

    // A panel closed (Esc, its Close button, its work done): the focus goes back where it was,
    // or to the active question. "close" does not bubble: listen in the capture phase.
    document.addEventListener("close", function (event) {
      var dialog = event.target;
      if (!dialog || dialog.tagName !== "DIALOG") { return; }
      var back = dialog.returnFocusTo;
      dialog.returnFocusTo = null;
      if (back && back !== document.body && document.body.contains(back)) {
        back.focus({ preventScroll: true });
      } else {
        refocus();
      }
    }, true);

    // A swap keeps no focus: htmx would otherwise give it to the element of the new comment
    // with the id of the one focused before (the same answer of the *last* question), where
    // the next key would land.
    document.addEventListener("htmx:beforeSwap", function (event) {
      var target = event.detail.target;
      if (target && target.id === options.pageId && document.activeElement) {
        document.activeElement.blur();
      }
    });

    // Once per swap: htmx fires afterSettle on every settled element (the out-of-band ones
    // too), each with the same detail.
    document.addEventListener("htmx:afterSettle", function (event) {
      var target = event.detail.target;
      if (target && target.id === options.pageId && event.target.id === options.pageId) {
        window.scrollTo(0, 0); // a new comment starts at the top, with the page's bar in view
        setUp();
      }
    });

    document.addEventListener("DOMContentLoaded", setUp);

    return {
      click: click,
      refocus: refocus,
      press: press,
      openPanel: openPanel,
      scrollIntoColumn: scrollIntoColumn
    };
  }

  window.AnswerKeys = { attach: attach };
})();
