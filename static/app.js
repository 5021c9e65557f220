/* Small behaviours, bound through data attributes: no inline script anywhere (CSP).
 *
 *   <form data-confirm="Remove X?">   asks before submitting
 *   <select data-autosubmit>          submits its form when changed
 *   <input data-slug-from="id_name">  follows that field, slugified, until edited by hand
 *   <button data-copy="id">           copies that field's value to the clipboard (selects it
 *                                     when the clipboard is refused), then says "Copied"
 *   <a data-dismiss=".selector">      removes the closest matching element (cancel a form)
 *   <a class="move-link" href="...">  loads the move form into the comment with htmx (the
 *                                     link alone, without script, opens the same form on a page)
 *   <a data-hotkey="l">              followed when that key is pressed outside form fields
 *   "?" toggles a hint with the keyboard shortcuts of the page.
 */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) {
      select.form.requestSubmit();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    var field = button && document.getElementById(button.dataset.copy);
    if (!field) { return; }
    var label = button.firstChild;
    function done(text) {
      label.textContent = text;
      window.setTimeout(function () { label.textContent = "Copy link"; }, 2000);
    }
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { done("Copied"); },
        function () { done("Press Ctrl+C to copy"); }
      );
    } else {
      done("Press Ctrl+C to copy");
    }
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-dismiss]");
    if (link) {
      var victim = link.closest(link.dataset.dismiss);
      if (victim) {
        event.preventDefault();
        victim.remove();
      }
    }
  });

  // One delegated listener instead of hx-get on each of thousands of comments.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.move-link");
    var slot = link && link.closest(".comment").querySelector(".move-slot");
    if (!slot || !window.htmx || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    window.htmx.ajax("GET", link.href, { target: slot, swap: "innerHTML" });
  });

  function slugify(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9\s-]/g, "").trim().replace(/[\s-]+/g, "-").slice(0, 100);
  }

  function bindSlugs(root) {
    root.querySelectorAll("input[data-slug-from]").forEach(function (slug) {
      var source = document.getElementById(slug.dataset.slugFrom);
      if (!source || slug.dataset.slugBound) { return; }
      slug.dataset.slugBound = "1";
      var edited = slug.value !== "";
      slug.addEventListener("input", function () { edited = slug.value !== ""; });
      source.addEventListener("input", function () {
        if (!edited) { slug.value = slugify(source.value); }
      });
    });
  }

  function focusFirstField(root) {
    var field = root.querySelector && root.querySelector(".move-form input:not([type=hidden])");
    if (field) { field.focus(); }
  }

  function toggleHint() {
    var hint = document.querySelector(".kbd-hint");
    if (!hint) {
      hint = document.createElement("div");
      hint.className = "kbd-hint";
      hint.setAttribute("role", "note");
      hint.innerHTML = "<kbd>?</kbd> shows or hides this hint · <kbd>Esc</kbd> closes an open form";
      document.body.appendChild(hint);
      return;
    }
    hint.hidden = !hint.hidden;
  }

  document.addEventListener("keydown", function (event) {
    var typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "Escape") {
      document.querySelectorAll(".move-form").forEach(function (form) { form.remove(); });
      return;
    }
    if (!typing && event.key === "?") {
      toggleHint();
    }
    // <a data-hotkey="l"> is followed when that key is pressed outside a form field.
    if (!typing && !event.ctrlKey && !event.metaKey && !event.altKey && event.key.length === 1) {
      var hotkey = document.querySelector("[data-hotkey='" + CSS.escape(event.key) + "']");
      if (hotkey) {
        event.preventDefault();
        hotkey.click();
      }
    }
  });

  document.addEventListener("DOMContentLoaded", function () { bindSlugs(document); });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) { return; } // a page restored from htmx's history has no swap target
    bindSlugs(target);
    focusFirstField(target);
  });
})();
