// The scraped-text preview: each change is saved as it is made (htmx posts the page's form
// and swaps in the preview it gives).
(function () {
  "use strict";
  var counter = 0;
  var pending = null; // the comment a save being configured was made from
  var anchor = null; // the comment the admin just changed, where it was, and its save's request

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
    pending = comment && comment.id ? { id: comment.id, top: comment.getBoundingClientRect().top } : null;
  });

  // The anchor belongs to this save's request only: a search for "any comment above" sent
  // while the save was on its way settles first, and must not use it up (the save's swap
  // then threw the admin to the end of the page).
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!isPreviewSave(event) || !pending) return;
    anchor = { id: pending.id, top: pending.top, xhr: event.detail.xhr };
    pending = null;
  });

  // The swap replaces the whole preview: keep the comment just changed where it was on
  // screen, instead of letting the browser jump (it scrolled to the page's end).
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!anchor || event.detail.xhr !== anchor.xhr) return; // another request's swap
    var comment = document.getElementById(anchor.id);
    if (comment) window.scrollBy(0, comment.getBoundingClientRect().top - anchor.top);
    anchor = null;
  });
})();
