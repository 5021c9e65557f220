/* The scheme page's form editor, on top of its plain buttons (which work without script):
 *
 *   - key checks as they are typed: a question key used twice, a choice key used twice in
 *     one question or kept by the workspace gets a message beside the field, and Save
 *     refuses until it is fixed (the server refuses it too);
 *   - Alt+Up / Alt+Down in a question (or a choice) presses its Move up / Move down button;
 *   - a question dragged by its handle is dropped in place, then the editor is redrawn by the
 *     server ("Update the form"), so conditions and numbers follow;
 *   - focus goes where the server says after a button (HX-Trigger-After-Settle);
 *   - the preview shows a conditional question when its condition holds, as the workspace does;
 *   - what is typed or pressed while a redraw is on its way is kept (see "While the server").
 */
(function () {
  "use strict";

  function form() {
    return document.getElementById("scheme-form");
  }

  function setError(input, message) {
    var slot = document.getElementById(input.id + "-error");
    if (slot) {
      slot.textContent = message;
    }
    if (message) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  // Returns the number of key problems found; writes each one beside its field.
  function checkKeys() {
    var scheme = form();
    if (!scheme) {
      return 0;
    }
    var reserved = scheme.dataset.reservedKeys || "";
    var formNames = (scheme.dataset.formNames || "").split(" ");
    var problems = 0;
    var seenQuestions = {};
    scheme.querySelectorAll(".se-question").forEach(function (question, index) {
      var keyInput = question.querySelector("[data-question-key]");
      if (keyInput) {
        var key = keyInput.value.trim();
        var message = "";
        if (key && formNames.indexOf(key) !== -1) {
          message = "“" + key + "” is a name the workspace form uses.";
        } else if (key && Object.prototype.hasOwnProperty.call(seenQuestions, key)) {
          message = "Question " + seenQuestions[key] + " has this key.";
        } else if (key && !/^[a-z][a-z0-9_]*$/.test(key)) {
          message = "Lower-case letters, digits and _, starting with a letter.";
        }
        if (key && !Object.prototype.hasOwnProperty.call(seenQuestions, key)) {
          seenQuestions[key] = index + 1;
        }
        if (message || keyInput.getAttribute("aria-invalid")) {
          setError(keyInput, message);
        }
        problems += message ? 1 : 0;
      }
      var seenChoices = {};
      question.querySelectorAll("[data-choice-key]").forEach(function (input, choiceIndex) {
        var choiceKey = input.value;
        var problem = "";
        if (choiceKey && (choiceKey.trim() === "" || reserved.indexOf(choiceKey) !== -1)) {
          problem = "“" + choiceKey + "” is a workspace shortcut.";
        } else if (choiceKey && Object.prototype.hasOwnProperty.call(seenChoices, choiceKey)) {
          problem = "Choice " + seenChoices[choiceKey] + " has this key.";
        }
        if (choiceKey && !Object.prototype.hasOwnProperty.call(seenChoices, choiceKey)) {
          seenChoices[choiceKey] = choiceIndex + 1;
        }
        setError(input, problem);
        problems += problem ? 1 : 0;
      });
    });
    return problems;
  }

  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("#scheme-form")) {
      checkKeys();
      var status = document.getElementById("scheme-save-status");
      if (status) {
        status.textContent = "";
      }
    }
  });

  document.addEventListener("submit", function (event) {
    var scheme = form();
    if (event.target !== scheme) {
      return;
    }
    var submitter = event.submitter;
    if (!submitter || submitter.value !== "save") {
      return;
    }
    var problems = checkKeys();
    if (problems) {
      event.preventDefault();
      var status = document.getElementById("scheme-save-status");
      status.textContent =
        "Not saved: " + problems + " key" + (problems > 1 ? "s" : "") + " to fix, marked above.";
      var first = scheme.querySelector("[aria-invalid='true']");
      if (first) {
        first.focus();
      }
    }
  });

  // Alt+Up / Alt+Down: the Move buttons of the choice or question holding the focus.
  var keepFocus = null;
  document.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) {
      return;
    }
    var item = event.target.closest && event.target.closest(".se-choice, .se-question");
    if (!item || !item.closest("#scheme-form")) {
      return;
    }
    var id = item.dataset.choiceId || item.dataset.questionId;
    var button = document.getElementById(id + (event.key === "ArrowUp" ? "-up" : "-down"));
    event.preventDefault();
    if (button && !button.disabled) {
      keepFocus = event.target.id || null;
      button.click();
    }
  });

  document.body.addEventListener("scheme-editor-focus", function (event) {
    var id = keepFocus || (event.detail && event.detail.value);
    keepFocus = null;
    var target = id && document.getElementById(id);
    if (target && !target.disabled) {
      target.focus();
    }
  });

  // Dragging a question by its handle (native drag and drop; the handle is draggable, so
  // text in the fields can still be selected with the mouse).
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var handle = event.target.closest && event.target.closest("#scheme-form .se-handle");
    if (!handle) {
      return;
    }
    dragged = handle.closest(".se-question");
    dragged.classList.add("is-dragged");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.id);
    event.dataTransfer.setDragImage(dragged, 10, 10);
  });
  document.addEventListener("dragover", function (event) {
    var over = dragged && event.target.closest && event.target.closest(".se-question");
    if (over && over !== dragged) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
    }
  });
  document.addEventListener("drop", function (event) {
    var over = dragged && event.target.closest && event.target.closest(".se-question");
    if (!over || over === dragged) {
      return;
    }
    event.preventDefault();
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
    keepFocus = dragged.id + "-title";
    document.getElementById("scheme-refresh").click();
  });
  document.addEventListener("dragend", function () {
    if (dragged) {
      dragged.classList.remove("is-dragged");
      dragged = null;
    }
  });

  // The preview: a question with a condition shows when an answer it depends on is picked.
  document.addEventListener("change", function (event) {
    var preview = event.target.closest && event.target.closest("#scheme-preview");
    if (!preview) {
      return;
    }
    preview.querySelectorAll(".choice").forEach(function (label) {
      var input = label.querySelector("input");
      label.classList.toggle("is-checked", Boolean(input && input.checked));
    });
    preview.querySelectorAll("fieldset.question[data-show-if]").forEach(function (fieldset) {
      var wanted = (fieldset.dataset.showIfValues || "").split(" ");
      var source = preview.querySelectorAll(
        "fieldset.question[data-key='" + fieldset.dataset.showIf + "']:not([hidden]) input:checked"
      );
      var shown = Array.prototype.some.call(source, function (input) {
        return wanted.indexOf(input.value) !== -1;
      });
      fieldset.hidden = !shown;
      fieldset.disabled = !shown;
    });
  });

  // While the server redraws the editor, the admin may go on typing, ticking or pressing.
  // The redraw is built from the form as it was sent, so without this it would wipe out what
  // was typed meanwhile, and htmx drops a press queued on a button that the redraw replaced.
  // So: what changed in a field since the request left is put back into the redrawn field
  // (fields keep their ids across redraws), and a press that htmx dropped is pressed again
  // on the redrawn button of the same id, if there still is one.
  function isTicked(field) {
    return field.type === "checkbox" || field.type === "radio";
  }
  function fieldState(field) {
    return isTicked(field) ? field.checked : field.value;
  }
  function setFieldState(field, state) {
    if (isTicked(field)) {
      field.checked = state;
    } else {
      field.value = state;
    }
  }
  function fieldsOf(root) {
    var states = {};
    root.querySelectorAll("input[id], select[id], textarea[id]").forEach(function (field) {
      states[field.id] = fieldState(field);
    });
    return states;
  }
  function isEditorRequest(detail) {
    return Boolean(detail && detail.target && detail.target.id === "scheme-editor");
  }
  var sent = null; // the editor's fields when its request left
  var typedMeanwhile = null; // what changed after that, to put back once redrawn
  var presses = []; // presses on the editor's own buttons and menus, until htmx sends them

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    // One press, one request: a button pressed twice is sent twice.
    var sentPress = presses.findIndex(function (press) {
      return press.element === elt;
    });
    if (sentPress !== -1) {
      presses.splice(sentPress, 1);
    }
    if (isEditorRequest(event.detail)) {
      sent = fieldsOf(event.detail.target);
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!sent || !isEditorRequest(event.detail)) {
      return;
    }
    var now = fieldsOf(event.detail.target);
    typedMeanwhile = {};
    Object.keys(now).forEach(function (id) {
      if (Object.prototype.hasOwnProperty.call(sent, id) && sent[id] !== now[id]) {
        typedMeanwhile[id] = now[id];
      }
    });
    sent = null;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id !== "scheme-editor" || !typedMeanwhile) {
      return;
    }
    var changes = typedMeanwhile;
    typedMeanwhile = null;
    Object.keys(changes).forEach(function (id) {
      var field = document.getElementById(id);
      if (!field || !event.target.contains(field)) {
        return; // the redraw took that field away (a choice removed, a kind without choices)
      }
      setFieldState(field, changes[id]);
      // The key checks and the preview follow, as if typed now. A menu's change is pressed
      // again below, when htmx dropped it.
      field.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
  function remember(event, element) {
    if (element && element.closest("#scheme-editor")) {
      presses.push({ element: element, id: element.id, type: event.type });
    }
  }
  document.addEventListener(
    "click",
    function (event) {
      remember(event, event.target.closest && event.target.closest("button[hx-post]"));
    },
    true
  );
  document.addEventListener(
    "change",
    function (event) {
      remember(event, event.target.closest && event.target.closest("select[hx-post]"));
    },
    true
  );
  document.body.addEventListener("htmx:afterSettle", function () {
    // A press whose element the redraw removed before htmx sent it was dropped: press it
    // again on its redrawn twin. The first goes now; the next wait for the redraw of that one.
    var dropped = presses.filter(function (press) {
      return !document.body.contains(press.element);
    });
    presses = presses.filter(function (press) {
      return document.body.contains(press.element);
    });
    dropped.forEach(function (press) {
      var twin = document.getElementById(press.id);
      if (!twin || twin.disabled) {
        return;
      }
      if (press.type === "click") {
        twin.click();
      } else {
        twin.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  });

  document.addEventListener("DOMContentLoaded", checkKeys);
  document.body.addEventListener("htmx:afterSettle", checkKeys);
})();
