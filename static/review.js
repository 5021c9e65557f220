/* The adjudication page's keyboard: set gold answers with one key each. No inline script (CSP).
 *
 * The keys are the labelling workspace's (answer_keys.js, shared with workspace.js): one
 * question is "active" (its table row highlighted); a choice key (shown beside each gold
 * answer) answers it, and a one-answer question moves on to the next shown question. Enter
 * saves the gold label and htmx swaps in the next comment of the queue; "]" moves on without
 * saving. No autosave: gold is a decision, made with Enter.
 */
(function () {
  "use strict";

  var answerKeys = window.AnswerKeys.attach({
    formId: "gold-form",
    pageId: "adjudication",
    submitId: "save-gold",
    noteId: "gold-note",
    row: "tr", // a question is a row of the table: the row hides and is highlighted
    onOverwrite: function (revision) {
      // The reviewer chose to overwrite the other gold label: take its revision, save again.
      document.getElementById("gold-revision").value = revision;
      answerKeys.click("save-gold");
    }
  });
})();
