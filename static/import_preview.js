// The scraped-text preview: each change is saved as it is made (htmx posts the page's form
// and swaps in the preview it gives).
(function () {
  "use strict";
  var counter = 0;
  var anchor = null; // the comment the admin just changed, and where it was on screen

  function isPreviewSave(event) {
    return event.detail.elt && event.detail.elt.matches("[data-preview-saves]");
  }

  // Every save carries an increasing number, so that a save the browser gave up on (a newer
  // one replaced it) but the server received late can never undo a newer choice.
  document.addEventListener("htmx:configRequest", function (event) {
    if (!isPreviewSave(event)) return;
    counter += 1;
    event.detail.parameters.seq = String(Date.now() * 1000 + (counter % 1000));
    var trigger = event.detail.triggeringEvent && event.detail.triggeringEvent.target;
    var comment = trigger && trigger.closest ? trigger.closest("li[id], .preview-paragraph") : null;
    anchor = comment && comment.id ? { id: comment.id, top: comment.getBoundingClientRect().top } : null;
  });

  // The swap replaces the whole preview: keep the comment just changed where it was on
  // screen, instead of letting the browser jump (it scrolled to the page's end).
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!anchor) return; // set only by a preview save (the swapped element is the new preview)
    var comment = document.getElementById(anchor.id);
    if (comment) window.scrollBy(0, comment.getBoundingClientRect().top - anchor.top);
    anchor = null;
  });
})();
