/* The labelling workspace's keyboard and saving. No inline script anywhere (CSP).
 *
 * Answering with one key per answer, conditional questions, panels and focus after a swap come
 * from answer_keys.js, shared with the adjudication page. This file adds what the workspace has
 * beyond that:
 *
 * - Saving. Every change is kept in localStorage at once and autosaved after a short pause.
 *   A save that fails (a 5xx, the network, a time-out, a lost login) says "Not saved —
 *   retrying" and is retried with backoff until the server has it; the answers stay in the
 *   page and in localStorage (a reload or a closed tab restores them), leaving the page warns,
 *   and the pagehide beacon resends what is not confirmed. A save made from a stale revision
 *   gets the server's conflict message instead (answer_keys.js wires its buttons). A retried
 *   save that the server had already applied is answered as saved (see save_annotation).
 * - Keys typed while the next comment loads (after Enter, [ or ]) are held, shown, and applied
 *   in order to the new comment once it is there, as if typed then; if the comment does not
 *   change (the save failed, answers are missing) they are refused, visibly, never applied to
 *   the wrong comment.
 * - Its own keys (previous comment, flag, skip, report a wrong parent), the stance target of
 *   the active question, the article's open/closed state for the session, "Show all" on
 *   clamped comments, and the time spent on the comment.
 */
(function () {
  "use strict";

  var STORE_PREFIX = "annotator:unsaved:";
  var ARTICLE_KEY = "annotator:article-open";
  var RETRY_MS = [1000, 2000, 4000, 8000, 15000, 30000];
  var SAVE_TIMEOUT_MS = 10000;
  var SLOW_SAVE_MS = 800;

  var shownAt = Date.now();
  var hiddenSince = null;
  var hiddenTotal = 0;
  var carriedElapsed = 0; // time of saves that failed, sent again with the next one

  // -- state of the comment on screen -------------------------------------------------------
  var saving = {
    key: null, // localStorage key of the comment on screen
    url: null, // its save URL
    dirty: false, // changed since the server last confirmed a save
    changes: 0, // bumped on every change: a save confirms only the changes it carried
    inFlight: false,
    timer: null,
    failures: 0,
    failing: false, // the last save failed; retrying
    conflict: false, // refused as made from a stale revision: the person decides
    waiting: [] // what runs once the form is saved (moving to another comment)
  };
  var loading = false; // the next comment is on its way
  var loadingFrom = null;
  var typedAhead = [];
  var hideNotice = null;
  // After Enter failed (or brought the same comment back), keys still coming in were typed for
  // the next comment: while they come less than this apart (and this soon after the failure:
  // quicker than a person reads the message), they are refused rather than answering this one.
  var REFUSE_AFTER_FAILURE_MS = 400;
  var refuseUntil = 0;
  var refusedWhy = "";

  function form() { return document.getElementById("label-form"); }
  function workspaceEl() { return document.getElementById("workspace"); }
  function statusEl() { return document.getElementById("save-status"); }

  // -- time spent ---------------------------------------------------------------------------
  function elapsedMs() {
    var now = Date.now();
    var hidden = hiddenTotal + (hiddenSince ? now - hiddenSince : 0);
    var elapsed = Math.max(0, now - shownAt - hidden) + carriedElapsed;
    carriedElapsed = 0;
    shownAt = now;
    hiddenTotal = 0;
    hiddenSince = document.hidden ? now : null;
    return elapsed;
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      hiddenSince = Date.now();
    } else if (hiddenSince) {
      hiddenTotal += Date.now() - hiddenSince;
      hiddenSince = null;
    }
  });

  // -- what the form holds, kept in localStorage until the server has it ----------------------
  var NOT_ANSWERS = { csrfmiddlewaretoken: 1, revision: 1, elapsed_ms: 1, action: 1 };

  function formFields() {
    var fields = [];
    new FormData(form()).forEach(function (value, name) {
      if (!NOT_ANSWERS[name]) { fields.push([name, String(value)]); }
    });
    return fields;
  }

  function revision() { return document.getElementById("revision").value; }

  function readStored(key) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : null;
    } catch (error) {
      return null;
    }
  }

  function store() {
    if (!saving.key || !form()) { return; }
    try {
      window.localStorage.setItem(saving.key, JSON.stringify({
        revision: revision(), at: Date.now(), fields: formFields()
      }));
    } catch (error) { /* storage full or off: the page still holds the answers */ }
  }

  function forget(key) {
    try { window.localStorage.removeItem(key || saving.key); } catch (error) { /* off */ }
  }

  function applyFields(fields) {
    var f = form();
    var has = {};
    var text = {};
    fields.forEach(function (pair) {
      has[pair[0] + "\u0000" + pair[1]] = true;
      if (!(pair[0] in text)) { text[pair[0]] = pair[1]; }
    });
    f.querySelectorAll("input, textarea").forEach(function (input) {
      if (!input.name || NOT_ANSWERS[input.name] || input.type === "hidden") { return; }
      var before = input.type === "radio" || input.type === "checkbox" ? input.checked : input.value;
      if (input.type === "radio" || input.type === "checkbox") {
        input.checked = Boolean(has[input.name + "\u0000" + input.value]);
      } else {
        input.value = text[input.name] || "";
      }
      var after = input.type === "radio" || input.type === "checkbox" ? input.checked : input.value;
      if (before !== after) { input.dispatchEvent(new Event("change", { bubbles: true })); }
    });
  }

  // -- the save status line -----------------------------------------------------------------
  function say(message, unsaved) {
    var status = statusEl();
    if (!status) { return; }
    status.className = "save-status" + (unsaved ? " is-unsaved has-error" : "");
    status.setAttribute("role", unsaved ? "alert" : "status");
    status.textContent = message;
    keepActiveInView();
  }

  // The status at the column's foot grew or shrank: the question being answered stays clear.
  function keepActiveInView() {
    var active = document.querySelector("#label-form fieldset.question.is-active");
    if (active) { answerKeys.scrollIntoColumn(active); }
  }

  function swapStatus(body) {
    if (window.htmx) { window.htmx.swap(statusEl(), body, { swapStyle: "outerHTML" }); }
    keepActiveInView();
  }

  function sayRetrying(why, delay) {
    var seconds = Math.max(1, Math.round(delay / 1000));
    say("Not saved — " + why + ". Retrying in " + seconds + " s; your answers are kept in this " +
      "browser" + (saving.waiting.length ? " and you move on once they are saved" : "") + ".", true);
  }

  // -- autosave -----------------------------------------------------------------------------
  function schedule(delay) {
    window.clearTimeout(saving.timer);
    saving.timer = window.setTimeout(send, delay);
  }

  function changed(delay) {
    saving.dirty = true;
    saving.changes += 1;
    store();
    if (!saving.conflict) { schedule(delay); }
  }

  function failed(why) {
    saving.failing = true;
    var delay = RETRY_MS[Math.min(saving.failures, RETRY_MS.length - 1)];
    saving.failures += 1;
    sayRetrying(why, delay);
    schedule(delay);
    settled();
  }

  // Run what waited for the save: a submit once no save is under way (it carries every
  // answer), a move to another comment once the server has everything.
  function settled() {
    if (saving.inFlight) { return; }
    var still = [];
    var ready = [];
    saving.waiting.forEach(function (wait) {
      (wait.needsSaved && saving.dirty ? still : ready).push(wait);
    });
    saving.waiting = still;
    ready.forEach(function (wait) { wait.go(); });
  }

  function send() {
    window.clearTimeout(saving.timer);
    if (saving.inFlight || !saving.dirty || saving.conflict || !form()) { return; }
    var url = saving.url;
    var key = saving.key;
    var carried = saving.changes;
    var data = new FormData(form());
    var elapsed = elapsedMs();
    data.set("action", "autosave");
    data.set("elapsed_ms", String(elapsed));
    var controller = window.AbortController ? new AbortController() : null;
    var timeout = window.setTimeout(function () { if (controller) { controller.abort(); } },
      SAVE_TIMEOUT_MS);
    var slow = window.setTimeout(function () { say("Saving…", false); }, SLOW_SAVE_MS);
    saving.inFlight = true;
    var csrf = data.get("csrfmiddlewaretoken") || "";

    function done() {
      window.clearTimeout(timeout);
      window.clearTimeout(slow);
      saving.inFlight = false;
    }

    window.fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": csrf },
      signal: controller ? controller.signal : undefined,
      keepalive: true
    }).then(function (response) {
      return response.text().then(function (body) {
        done();
        if (key !== saving.key) { return; } // another comment is on screen by now
        answered(response.status, body, carried, elapsed);
      });
    }).catch(function () {
      done();
      if (key !== saving.key) { return; }
      carriedElapsed += elapsed;
      failed(navigator.onLine === false ? "you are offline" : "the server did not answer");
    });
  }

  function answered(status, body, carried, elapsed) {
    if (status === 200 || status === 422) {
      // Saved (422: refused answers, with the message): the server's status line replaces ours.
      saving.failures = 0;
      saving.failing = false;
      swapStatus(body);
      if (saving.changes === carried) {
        saving.dirty = false;
        forget();
      } else {
        store(); // newer answers, now against the new revision: send them too
        schedule(0);
      }
      settled();
    } else if (status === 409) {
      conflicted();
      swapStatus(body);
    } else if (status === 403) {
      carriedElapsed += elapsed;
      failed("you are logged out or lost access (log in again in another tab)");
    } else if (status >= 500 || status === 429 || status === 408) {
      carriedElapsed += elapsed;
      failed("the server failed (" + status + ")");
    } else {
      saving.failing = false;
      say("Not saved: the server refused the save (" + status + "). Reload the page; your " +
        "answers are kept in this browser.", true);
    }
  }

  // Refused as made from a stale revision: the comment stays on screen with its answers.
  function conflicted() {
    saving.conflict = true;
    saving.failing = false;
    saving.waiting = [];
    refuseTypedAhead("this comment was changed elsewhere: see its status");
    stopLoading();
  }

  function saveNow() { if (saving.dirty && !saving.inFlight) { send(); } }

  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("#label-form .autosave")) { changed(1000); }
  });

  document.addEventListener("change", function (event) {
    if (event.target.closest && event.target.closest("#label-form .autosave")) { changed(300); }
  });

  window.addEventListener("online", function () { if (saving.failing) { schedule(0); } });

  // Leaving: what the server has not confirmed goes out once more (the localStorage copy stays
  // until the next visit sees it saved), and a save still failing asks first.
  window.addEventListener("pagehide", function () {
    var f = form();
    if (!f || !saving.dirty || saving.conflict || !navigator.sendBeacon) { return; }
    var data = new FormData(f);
    data.set("action", "autosave");
    data.set("elapsed_ms", String(elapsedMs()));
    navigator.sendBeacon(saving.url, data);
  });

  // Leaving a comment nobody worked on (no save ever, nothing changed): its hold is given back
  // at once, so looking at a comment does not keep it from the others (assignment.py).
  function releaseIfUntouched() {
    var ws = workspaceEl();
    var f = form();
    if (!ws || !f || saving.dirty || saving.inFlight || revision() !== "0") { return; }
    var data = new FormData();
    data.set("csrfmiddlewaretoken", f.querySelector("[name=csrfmiddlewaretoken]").value);
    if (navigator.sendBeacon) {
      navigator.sendBeacon(ws.dataset.releaseUrl, data);
    } else {
      window.fetch(ws.dataset.releaseUrl, { method: "POST", body: data, keepalive: true,
        credentials: "same-origin" }).catch(function () { /* the hold expires by itself */ });
    }
  }

  window.addEventListener("pagehide", releaseIfUntouched);

  window.addEventListener("beforeunload", function (event) {
    if (form() && saving.dirty && (saving.failing || saving.conflict)) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // Answers of this comment left unsaved by an earlier visit (closed tab, lost network).
  function restoreUnsaved() {
    var stored = readStored(saving.key);
    if (!stored || !stored.fields) { return; }
    var now = JSON.stringify(formFields());
    if (JSON.stringify(stored.fields) === now) {
      forget();
      return;
    }
    var at = new Date(stored.at).toLocaleTimeString();
    if (String(stored.revision) === revision()) {
      applyFields(stored.fields);
      changed(0);
      say("Saving the answers you gave at " + at + ", which had not reached the server…", true);
      return;
    }
    // Saved elsewhere since: the person chooses, nothing is overwritten silently.
    var status = statusEl();
    status.className = "save-status conflict";
    status.setAttribute("role", "alert");
    status.textContent = "";
    var p = document.createElement("p");
    p.textContent = "Answers you gave at " + at + " never reached the server, and this comment " +
      "was saved from elsewhere since. Nothing was overwritten.";
    var actions = document.createElement("p");
    actions.className = "conflict-actions";
    [["restore", "Use my unsaved answers"], ["discard", "Keep the saved ones"]].forEach(function (b) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.dataset.unsaved = b[0];
      button.textContent = b[1];
      actions.appendChild(button);
    });
    status.appendChild(p);
    status.appendChild(actions);
  }

  // "Load the saved version" after a conflict: the person gives up this tab's answers on
  // purpose, so leaving does not warn and the next visit does not offer them again.
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("#save-status.conflict a[href]")) {
      saving.dirty = false;
      saving.conflict = false;
      forget();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-unsaved]");
    if (!button) { return; }
    var stored = readStored(saving.key);
    if (button.dataset.unsaved === "restore" && stored) {
      applyFields(stored.fields);
      changed(0);
      say("Saving your unsaved answers…", true);
    } else {
      forget();
      say("Kept the saved answers.", false);
    }
    answerKeys.refocus();
  });

  // -- moving to another comment ------------------------------------------------------------
  // Previous/Next/"Back to it" wait until what was just changed is saved (an answer would
  // otherwise be dropped with the old form); Save and next waits for a save under way (its
  // revision). Keys typed meanwhile are held for the comment that comes.
  document.addEventListener("htmx:confirm", function (event) {
    var detail = event.detail;
    if (!detail.target || detail.target.id !== "workspace") { return; }
    startLoading();
    var isSubmit = detail.verb === "post";
    if (!isSubmit) { releaseIfUntouched(); }
    if (isSubmit) {
      window.clearTimeout(saving.timer); // the submit carries every answer itself
      if (!saving.inFlight) { return; }
    } else if (!saving.dirty && !saving.inFlight) {
      return;
    }
    event.preventDefault();
    saving.waiting.push({ go: function () { detail.issueRequest(true); }, needsSaved: !isSubmit });
    if (!isSubmit) { saveNow(); }
    if (saving.failing) { sayRetrying("the server did not answer", 1000); }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.closest && elt.closest("#label-form") && event.detail.verb === "post") {
      event.detail.parameters.elapsed_ms = String(elapsedMs());
    }
  });

  // Answered: a new comment (or this one again, with its missing answers marked) is swapped in
  // and the server has the answers either way.
  document.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail;
    var elt = detail.elt;
    var isSubmit = Boolean(elt && elt.closest && elt.closest("#label-form"));
    if (!detail.xhr || !(isSubmit || (detail.target && detail.target.id === "workspace"))) {
      return;
    }
    var code = detail.xhr.status;
    if (code === 409) {
      conflicted();
      return;
    }
    if ((code >= 200 && code < 300) || code === 422) {
      if (isSubmit) {
        // Submitted, or kept as a draft with the missing answers marked: the server has them.
        saving.dirty = false;
        saving.failing = false;
        forget();
      }
      return;
    }
    // A 5xx or no answer: nothing was swapped; the answers are still here, keep them.
    refuseTypedAhead(isSubmit ? "the comment was not saved" : "the next comment did not load");
    stopLoading();
    if (isSubmit) {
      saving.dirty = true;
      saving.changes += 1;
      store();
      var why = code ? "the server failed (" + code + ")" : "the server did not answer";
      failed(why);
      say("Not saved — " + why + ". Your answers are kept in this browser and saved as soon " +
        "as it is back; then press Enter again to finish this comment.", true);
    } else {
      say("The other comment did not load (" + (code || "no answer") + "). " +
        "Press the key again.", true);
    }
  });

  // -- keys typed while the next comment loads ----------------------------------------------
  function showTyped(message, refused) {
    var notice = document.getElementById("typeahead");
    if (!notice) { return; }
    window.clearTimeout(hideNotice);
    notice.hidden = !message;
    notice.textContent = message;
    notice.classList.toggle("is-refused", Boolean(refused));
    if (refused) { hideNotice = window.setTimeout(function () { notice.hidden = true; }, 8000); }
  }

  function keyName(key) { return key === " " ? "Space" : key; }

  function startLoading() {
    if (loading) { return; }
    loading = true;
    var ws = workspaceEl();
    loadingFrom = ws ? ws.dataset.commentId : null;
    if (ws) { ws.classList.add("is-loading"); }
  }

  function stopLoading() {
    loading = false;
    var ws = workspaceEl();
    if (ws) { ws.classList.remove("is-loading"); }
  }

  var ANSWERING_KEYS = ["Enter", "Backspace", "Delete", "ArrowUp", "ArrowDown"];
  var refused = [];

  function isAnsweringKey(key) { return key.length === 1 || ANSWERING_KEYS.indexOf(key) >= 0; }

  // The keys held for a comment that did not come (or changed elsewhere) are dropped, said so,
  // and so are the ones still arriving just after: they were typed for the next comment.
  function refuseTypedAhead(why) {
    refuseUntil = Date.now() + REFUSE_AFTER_FAILURE_MS;
    refusedWhy = why;
    refused = typedAhead;
    typedAhead = [];
    if (refused.length) { showRefused(); }
  }

  function showRefused() {
    showTyped("Not applied: " + refused.map(keyName).join(" ") + " (" + refusedWhy + "). " +
      "Type them again.", true);
  }

  function holdKey(event) {
    if (!loading) {
      if (Date.now() >= refuseUntil || !isAnsweringKey(event.key) ||
          document.querySelector("dialog[open]")) {
        return false;
      }
      refused.push(event.key);
      refuseUntil = Date.now() + REFUSE_AFTER_FAILURE_MS; // the same burst of typing
      showRefused();
      return true;
    }
    if (event.key === "Escape") {
      // Stay: keys typed ahead are dropped, and a move waiting for a save is called off.
      typedAhead = [];
      saving.waiting = saving.waiting.filter(function (wait) { return !wait.needsSaved; });
      if (!saving.waiting.length) { stopLoading(); }
      showTyped("Stayed on this comment; keys typed ahead dropped.", true);
      return true;
    }
    if (isAnsweringKey(event.key)) {
      typedAhead.push(event.key);
      showTyped("Loading the next comment… keys for it: " + typedAhead.map(keyName).join(" "));
    }
    return true; // nothing acts on the old comment once it has been left
  }

  function onReady() {
    var ws = workspaceEl();
    var arrived = ws ? ws.dataset.commentId : null;
    var wasLoading = loading;
    stopLoading();
    if (!wasLoading) { return; }
    if (arrived === loadingFrom) {
      refuseTypedAhead("this comment is still on screen: see its status");
      return;
    }
    showTyped("", false);
    while (typedAhead.length && !loading) { answerKeys.press(typedAhead.shift()); }
    if (loading && typedAhead.length) {
      showTyped("Loading the next comment… keys for it: " + typedAhead.map(keyName).join(" "));
    }
  }

  // -- panels and the workspace's own keys --------------------------------------------------
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

  // The wrong-parent report, once "r" opened it: a digit picks the right parent and sends it.
  function reportKeys(event, dialog) {
    if (dialog.id !== "report-dialog") { return false; }
    var report = dialog.querySelector(".report-form");
    if (!report) { return false; }
    if (event.key === "Enter" && !(event.target.closest && event.target.closest("a, button"))) {
      report.requestSubmit();
      return true;
    }
    var typing = event.target.closest && event.target.closest("input[type=text]");
    var choice = !typing && report.querySelector("input[data-key='" + CSS.escape(event.key) + "']");
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
    return answerKeys.openPanel(document.getElementById("skip"), document.getElementById("skip-reason"));
  }

  function openReport() {
    var dialog = document.getElementById("report-dialog");
    if (!dialog) { return false; }
    dialog.returnFocusTo = document.activeElement;
    var button = document.getElementById("report-parent-button");
    if (button) { button.click(); }
    return true;
  }

  // The article: title and lede, or the whole text; the choice lasts for the session.
  function applyArticleChoice() {
    var article = document.getElementById("target-article");
    if (!article) { return; }
    var open = false;
    try { open = window.sessionStorage.getItem(ARTICLE_KEY) === "1"; } catch (error) { /* off */ }
    article.open = open;
  }

  document.addEventListener("toggle", function (event) {
    if (!event.target || event.target.id !== "target-article" || !workspaceEl()) { return; }
    try {
      window.sessionStorage.setItem(ARTICLE_KEY, event.target.open ? "1" : "0");
    } catch (error) { /* off */ }
  }, true);

  // Comments above the one being labelled are clamped: "Show all" where the text is cut.
  function setUpClamps() {
    document.querySelectorAll("#workspace .comment-text.clamped").forEach(function (text) {
      var button = text.parentElement.querySelector(".clamp-toggle");
      if (button) { button.hidden = text.scrollHeight <= text.clientHeight + 1; }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".clamp-toggle");
    if (!button) { return; }
    var text = button.parentElement.querySelector(".comment-text.clamped");
    var expanded = text.classList.toggle("is-expanded");
    button.setAttribute("aria-expanded", String(expanded));
    button.textContent = expanded ? "Show less" : "Show all";
  });

  document.addEventListener("toggle", function (event) {
    if (event.target && event.target.id === "chain-more") { setUpClamps(); }
  }, true);

  // The sticky form column ends at the bottom of the screen (it scrolls inside itself), so
  // the question it scrolls to is on screen, not below the fold.
  function fitColumn() {
    var column = document.querySelector("#workspace [data-scroll-column]");
    if (!column) { return; }
    if (getComputedStyle(column).position !== "sticky") {
      column.style.maxHeight = "";
      return;
    }
    var top = column.getBoundingClientRect().top + window.scrollY;
    var visibleTop = Math.max(top - window.scrollY, 8);
    column.style.maxHeight = Math.max(200, window.innerHeight - visibleTop - 8) + "px";
  }

  // The whole article, when open, gets the room left above the comment being labelled: its
  // text scrolls inside a box that stops where the comment must begin to be in view.
  var COMMENT_IN_VIEW_PX = 240;

  function fitArticle() {
    var article = document.getElementById("target-article");
    var body = article && article.querySelector(".ws-article-body");
    var comment = document.getElementById("current-comment");
    if (!body || !comment) { return; }
    body.style.maxHeight = "";
    if (!article.open) { return; }
    var rect = comment.getBoundingClientRect();
    var needed = rect.top + window.scrollY + Math.min(rect.height, COMMENT_IN_VIEW_PX);
    var excess = needed - window.innerHeight;
    if (excess > 0) {
      body.style.maxHeight = Math.max(96, body.getBoundingClientRect().height - excess) + "px";
    }
  }

  document.addEventListener("toggle", function (event) {
    if (event.target && event.target.id === "target-article") { fitArticle(); fitColumn(); }
  }, true);

  window.addEventListener("resize", function () { fitArticle(); fitColumn(); });
  // At once on a swap, not only once it settles: the save status must never be below the fold.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "workspace") { fitColumn(); }
  });
  window.addEventListener("scroll", fitColumn, { passive: true });

  function setUp() {
    fitColumn();
    var ws = workspaceEl();
    var f = form();
    var url = ws ? ws.dataset.saveUrl : null;
    if (url !== saving.url) {
      window.clearTimeout(saving.timer);
      saving.url = url;
      saving.key = STORE_PREFIX + url;
      saving.dirty = false;
      saving.changes = 0;
      saving.failures = 0;
      saving.failing = false;
      saving.waiting = [];
    }
    saving.conflict = false;
    shownAt = Date.now();
    hiddenTotal = 0;
    hiddenSince = document.hidden ? shownAt : null;
    applyArticleChoice();
    setUpClamps();
    fitArticle();
    if (f) { restoreUnsaved(); }
    var skip = document.getElementById("skip");
    if (skip && skip.hasAttribute("data-open-on-load")) { window.setTimeout(openSkip, 0); }
  }

  var answerKeys = window.AnswerKeys.attach({
    formId: "label-form",
    pageId: "workspace",
    submitId: "submit-button",
    noteId: "note",
    clicks: { "[": "previous-comment" },
    keys: { f: toggleFlag, s: openSkip, r: openReport },
    fieldEnter: { "skip-reason": "skip-button" },
    beforeKeys: holdKey,
    panelKeys: reportKeys,
    onActive: highlightTarget,
    onSetUp: setUp,
    onReady: onReady,
    onOverwrite: function (newRevision) {
      // Take the other save's revision and save again.
      document.getElementById("revision").value = newRevision;
      saving.conflict = false;
      changed(0);
    }
  });

  // The report form arrived: open it as a panel with the focus on its first choice.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (target && target.id === "report-slot" && event.target.id === "report-slot" &&
        target.querySelector(".report-form")) {
      var dialog = document.getElementById("report-dialog");
      var choice = target.querySelector(".report-form input:checked, .report-form input[type=radio]");
      var back = dialog.returnFocusTo;
      answerKeys.openPanel(dialog, choice);
      if (back) { dialog.returnFocusTo = back; }
    }
  });

  // Reported (the server says so with an HX-Trigger): the confirmation goes beside the button.
  document.addEventListener("parent-reported", function () {
    window.setTimeout(function () {
      var dialog = document.getElementById("report-dialog");
      var done = dialog && dialog.querySelector(".report-done");
      var status = document.getElementById("report-status");
      if (status) { status.textContent = done ? done.textContent : "Reported."; }
      if (dialog && dialog.open) { dialog.close(); }
    }, 0);
  });

  document.addEventListener("close", function (event) {
    if (event.target && event.target.id === "report-dialog") {
      var slot = document.getElementById("report-slot");
      if (slot) { slot.textContent = ""; }
    }
  }, true);

  document.addEventListener("click", function (event) {
    var cancel = event.target.closest("#report-dialog [data-dismiss]");
    if (cancel) { document.getElementById("report-dialog").close(); }
  });
})();
