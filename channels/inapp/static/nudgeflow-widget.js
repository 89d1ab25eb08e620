/*
 * Nudgeflow in-app widget — plain JS, no build step, no dependencies.
 *
 *   <script src="https://nudgeflow.example.com/v1/widget.js"></script>
 *   <div id="nudges"></div>
 *   <script>
 *     const widget = Nudgeflow.mount({
 *       apiUrl: "https://nudgeflow.example.com",   // the in-app API (CORS: NUDGEFLOW_INAPP_ALLOWED_ORIGINS)
 *       userId: "ana",
 *       token: tokenFromYourBackend,               // a JWT {sub: "ana", aud: "nudgeflow-inapp", exp}, docs/inapp.md
 *       element: document.getElementById("nudges"),
 *       // optional: title, toasts (default true), toastSeconds (default 6), onTokenExpired: async () => newToken
 *     });
 *     // widget.unmount() stops it
 *   </script>
 *
 * Celebrations arriving live show as toasts; the panel lists the inbox (checklist of
 * milestones celebrated, nudges to act on) with "seen" / "dismiss" buttons and an unread
 * badge. Updates come from the server-sent events stream: nothing is polled. When the browser
 * reconnects by itself it sends the last event id, and the server replays only what was missed;
 * a fresh connection (new token) starts from a `snapshot`, which replaces the local state.
 */
(function (global) {
  "use strict";

  var STYLE_ID = "nudgeflow-widget-style";
  var CSS = [
    ".nf-widget{font-family:system-ui,sans-serif;font-size:14px;color:#1d2330}",
    ".nf-head{display:flex;align-items:center;gap:.5rem;margin:0 0 .5rem}",
    ".nf-head h3{font-size:1rem;margin:0}",
    ".nf-badge{background:#e33;color:#fff;border-radius:9px;padding:0 .5rem;font-size:.8rem}",
    ".nf-badge[data-count='0']{background:#aab}",
    ".nf-state{font-size:.75rem;color:#889;margin-left:auto}",
    ".nf-empty{color:#667;font-size:.85rem}",
    ".nf-item{border-left:4px solid #3a7;padding:.4rem .6rem;margin:.4rem 0;background:#f3fbf6;border-radius:4px}",
    ".nf-item.nf-nudge{border-color:#e90;background:#fff8ec}",
    ".nf-item.nf-dismissed{opacity:.45}",
    ".nf-item.nf-pending .nf-title::before{content:'\\2022 ';color:#e33}",
    ".nf-title{font-weight:600}",
    ".nf-meta{font-size:.72rem;color:#667;margin:.15rem 0}",
    ".nf-item button{font-size:.75rem;margin-right:.3rem;cursor:pointer}",
    ".nf-image{display:block;max-width:100%;height:auto;margin:.3rem 0;border-radius:4px}",
    ".nf-actions{display:flex;flex-wrap:wrap;gap:.4rem;margin:.4rem 0}",
    ".nf-cta{display:inline-block;padding:.35rem .8rem;border-radius:6px;font-weight:600;text-decoration:none;",
    "border:1px solid #3b5bdb}",
    ".nf-cta-primary{background:#3b5bdb;color:#fff}",
    ".nf-cta-secondary{background:#fff;color:#3b5bdb}",
    ".nf-cta:focus-visible,.nf-link:focus-visible{outline:2px solid #1d2330;outline-offset:2px}",
    ".nf-links{margin:.2rem 0;padding-left:1.1rem;font-size:.85rem}",
    ".nf-survey{margin:.4rem 0}.nf-survey-question{margin:.2rem 0;font-size:.85rem}",
    ".nf-rating{display:flex;gap:.25rem;margin:.25rem 0}",
    ".nf-item .nf-rate{min-width:1.8rem;border:1px solid #3b5bdb;border-radius:4px;background:#fff;color:#3b5bdb}",
    ".nf-item .nf-rate[aria-checked=true]{background:#3b5bdb;color:#fff}",
    ".nf-comment{display:block;width:100%;box-sizing:border-box;font:inherit;font-size:.85rem;margin:.25rem 0}",
    ".nf-survey-thanks{font-size:.8rem;color:#3a7;margin:.2rem 0}",
    ".nf-toasts{position:fixed;right:1rem;bottom:1rem;display:flex;flex-direction:column;gap:.5rem;z-index:2147483000}",
    ".nf-toast{background:#1d2330;color:#fff;padding:.7rem 1rem;border-radius:8px;box-shadow:0 4px 14px #0004;",
    "max-width:22rem;cursor:pointer;animation:nf-in .25s ease-out}",
    ".nf-toast strong{display:block}",
    ".nf-checklist{margin:0 0 .6rem}",
    ".nf-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    ".nf-playbook{margin:.3rem 0 .6rem}",
    ".nf-playbook-name{font-weight:600;display:flex;justify-content:space-between}",
    ".nf-bar{height:8px;background:#e4e7f0;border-radius:4px;overflow:hidden;margin:.3rem 0}",
    ".nf-bar-fill{height:100%;background:#3a7;transition:width .3s}",
    ".nf-steps{list-style:none;margin:.2rem 0;padding:0}",
    ".nf-step{display:flex;align-items:center;gap:.4rem;padding:.15rem 0}",
    ".nf-step-mark{width:1.2rem;text-align:center}",
    ".nf-step-done .nf-step-title{color:#667;text-decoration:line-through}",
    ".nf-step-locked{color:#99a}",
    ".nf-step-next .nf-step-title{font-weight:600}",
    ".nf-overdue{font-size:.7rem;color:#b35c00;border:1px solid #e90;border-radius:4px;padding:0 .3rem}",
    ".nf-mark-all{font-size:.75rem;cursor:pointer}",
    ".nf-item button:focus-visible,.nf-mark-all:focus-visible{outline:2px solid #3b5bdb;outline-offset:1px}",
    ".nf-dark{color:#e6e9f2;background:#161a22}",
    ".nf-dark .nf-item{background:#1f2a24}",
    ".nf-dark .nf-item.nf-nudge{background:#2b2418}",
    ".nf-dark .nf-meta,.nf-dark .nf-empty,.nf-dark .nf-step-done .nf-step-title{color:#a7adbd}",
    ".nf-dark .nf-bar{background:#313849}",
    ".nf-dark .nf-cta-secondary{background:#161a22;color:#9db0ff}",
    "@media (prefers-color-scheme: dark){.nf-auto{color:#e6e9f2;background:#161a22}",
    ".nf-auto .nf-item{background:#1f2a24}.nf-auto .nf-item.nf-nudge{background:#2b2418}",
    ".nf-auto .nf-meta,.nf-auto .nf-empty{color:#a7adbd}.nf-auto .nf-bar{background:#313849}}",
    "@keyframes nf-in{from{transform:translateY(1rem);opacity:0}to{transform:none;opacity:1}}"
  ].join("");
  var RANK = { pending: 0, seen: 1, clicked: 2, dismissed: 3, archived: 4 };
  var SNOOZE_HOURS = 24;

  function injectStyle() {
    if (document.getElementById(STYLE_ID)) return;
    var style = document.createElement("style");
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function toastArea() {
    var area = document.querySelector(".nf-toasts");
    if (!area) {
      area = el("div", "nf-toasts nf-widget");
      area.setAttribute("role", "status");
      area.setAttribute("aria-live", "polite");
      document.body.appendChild(area);
    }
    return area;
  }

  function mount(options) {
    if (!options || !options.apiUrl || !options.userId || !options.token || !options.element) {
      throw new Error("Nudgeflow.mount needs {apiUrl, userId, token, element}");
    }
    injectStyle();
    var apiUrl = options.apiUrl.replace(/\/+$/, "");
    var userId = options.userId;
    var token = options.token;
    var toasts = options.toasts !== false;
    var toastSeconds = options.toastSeconds || 6;
    var prompts = {};      // delivery_id -> prompt
    var unread = 0;
    var source = null;
    var stopped = false;
    var retryTimer = null;
    var base = apiUrl + "/v1/users/" + encodeURIComponent(userId);

    // theme: "light", "dark", or "auto" (the default: follows the user's system setting).
    var theme = options.theme === "dark" ? " nf-dark" : options.theme === "light" ? "" : " nf-auto";
    var root = el("div", "nf-widget" + theme);
    var head = el("div", "nf-head");
    head.appendChild(el("h3", "", options.title || "Your progress"));
    var badge = el("span", "nf-badge", "0");
    badge.setAttribute("aria-label", "unread");
    head.appendChild(badge);
    var markAll = el("button", "nf-mark-all", "mark all read");
    markAll.type = "button";
    markAll.addEventListener("click", function () { markAllSeen(); });
    head.appendChild(markAll);
    var state = el("span", "nf-state", "connecting…");
    head.appendChild(state);
    var checklistNode = el("div", "nf-checklist");
    var list = el("div", "nf-list");
    root.appendChild(head);
    root.appendChild(checklistNode);
    root.appendChild(list);
    options.element.innerHTML = "";
    options.element.appendChild(root);

    function sorted() {
      return Object.keys(prompts).map(function (k) { return prompts[k]; })
        .sort(function (a, b) { return a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0; });
    }

    // In view: what is neither archived nor snoozed past now (as the API's `inbox` view).
    function visible(p) {
      return p.status !== "archived" && !(p.snoozed_until && Date.parse(p.snoozed_until) > Date.now());
    }

    function button(className, label, description, onClick) {
      var node = el("button", className, label);
      node.type = "button";
      node.setAttribute("aria-label", description);
      node.addEventListener("click", onClick);
      return node;
    }

    function render() {
      badge.textContent = String(unread);
      badge.setAttribute("data-count", String(unread));
      markAll.disabled = unread === 0;
      list.innerHTML = "";
      var items = sorted().filter(visible);
      if (!items.length) {
        list.appendChild(el("p", "nf-empty", "Nothing yet — your milestones will show up here."));
        return;
      }
      items.forEach(function (p) {
        var item = el("div", "nf-item nf-" + p.kind + " nf-" + p.status);
        item.setAttribute("data-delivery-id", p.delivery_id);
        item.appendChild(el("div", "nf-title", p.title));
        item.appendChild(el("div", "nf-body", p.body));
        item.appendChild(el("div", "nf-meta", p.kind + " · " + p.milestone_id + " · " + p.status));
        appendMedia(item, p);
        appendSurvey(item, p);
        if (p.status === "pending") {
          item.appendChild(button("nf-seen", "seen", "Mark “" + p.title + "” seen", function () { setStatus(p, "seen"); }));
        }
        if (p.status !== "dismissed") {
          item.appendChild(button("nf-dismiss", "dismiss", "Dismiss “" + p.title + "”", function () {
            setStatus(p, "dismissed");
          }));
        }
        item.appendChild(button("nf-snooze", "snooze 1 day", "Snooze “" + p.title + "” for a day", function () {
          snooze(p, new Date(Date.now() + SNOOZE_HOURS * 3600 * 1000).toISOString());
        }));
        item.appendChild(button("nf-archive", "archive", "Archive “" + p.title + "”", function () {
          setStatus(p, "archived");
        }));
        list.appendChild(item);
      });
    }

    function safeUrl(url) {
      return typeof url === "string" && /^https?:\/\//i.test(url);
    }

    // Links are real <a href> elements: keyboard-focusable, middle-clickable, and they work without
    // this script's click handler, which only reports which link was followed.
    function linkTo(p, link, ref, className) {
      var a = el("a", className, link.label);
      a.href = link.url;
      a.setAttribute("data-link", ref);
      a.addEventListener("click", function () { setStatus(p, "clicked", ref).catch(function () {}); });
      return a;
    }

    function appendMedia(item, p) {
      if (p.image && safeUrl(p.image.url)) {
        var img = el("img", "nf-image");
        img.src = p.image.url;
        img.alt = p.image.alt || "";
        item.insertBefore(img, item.querySelector(".nf-body"));
      }
      var actions = el("div", "nf-actions");
      if (p.cta && safeUrl(p.cta.url)) actions.appendChild(linkTo(p, p.cta, "cta", "nf-cta nf-cta-primary"));
      if (p.secondary_cta && safeUrl(p.secondary_cta.url)) {
        actions.appendChild(linkTo(p, p.secondary_cta, "secondary_cta", "nf-cta nf-cta-secondary"));
      }
      if (actions.childNodes.length) item.appendChild(actions);
      var links = (p.links || []).filter(function (l) { return safeUrl(l.url); });
      if (links.length) {
        var ul = el("ul", "nf-links");
        (p.links || []).forEach(function (l, i) {
          if (!safeUrl(l.url)) return;
          var li = el("li");
          li.appendChild(linkTo(p, l, "links." + i, "nf-link"));
          ul.appendChild(li);
        });
        item.appendChild(ul);
      }
    }

    function merge(p) {
      var known = prompts[p.delivery_id];
      if (!known || RANK[p.status] > RANK[known.status] || (RANK[p.status] === RANK[known.status] &&
          (p.snoozed_at || "") >= (known.snoozed_at || ""))) prompts[p.delivery_id] = p;
      if (known && known.answer && !prompts[p.delivery_id].answer) prompts[p.delivery_id].answer = known.answer;
    }

    // A micro-survey: a rating (a radio group of buttons), an optional comment, sent once.
    function appendSurvey(item, p) {
      var survey = p.survey;
      if (!survey) return;
      var form = el("form", "nf-survey");
      form.setAttribute("data-survey", p.delivery_id);
      if (p.answer) {
        form.appendChild(el("p", "nf-survey-thanks", "Thanks for your feedback (" + p.answer.rating + " of " +
          survey.scale + ")."));
        item.appendChild(form);
        return;
      }
      form.appendChild(el("p", "nf-survey-question", survey.question));
      var scale = el("div", "nf-rating");
      scale.setAttribute("role", "radiogroup");
      scale.setAttribute("aria-label", survey.question);
      var chosen = null;
      var send = el("button", "nf-send", "Send");
      send.type = "submit";
      send.disabled = true;
      for (var n = 1; n <= survey.scale; n++) {
        (function (rating) {
          var rate = el("button", "nf-rate", String(rating));
          rate.type = "button";
          rate.setAttribute("role", "radio");
          rate.setAttribute("aria-checked", "false");
          rate.setAttribute("aria-label", rating + " of " + survey.scale);
          rate.addEventListener("click", function () {
            chosen = rating;
            Array.prototype.forEach.call(scale.children, function (c) { c.setAttribute("aria-checked", String(c === rate)); });
            send.disabled = false;
          });
          scale.appendChild(rate);
        })(n);
      }
      form.appendChild(scale);
      var comment = null;
      if (survey.comment) {
        comment = el("textarea", "nf-comment");
        comment.rows = 2;
        comment.maxLength = 2000;
        comment.placeholder = "Anything to add? (optional)";
        comment.setAttribute("aria-label", "Comment (optional)");
        form.appendChild(comment);
      }
      form.appendChild(send);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        if (!chosen) return;
        send.disabled = true;
        var body = { rating: chosen };
        if (comment && comment.value.trim()) body.comment = comment.value.trim();
        post("/prompts/" + encodeURIComponent(p.delivery_id) + "/answer", body)
          .then(function (updated) { merge(updated); render(); })
          .catch(function () { send.disabled = false; });
      });
      item.appendChild(form);
    }

    function toast(p) {
      if (!toasts || p.kind !== "celebration" || p.status !== "pending") return;
      var node = el("div", "nf-toast");
      node.appendChild(el("strong", "", "🎉 " + p.title));
      node.appendChild(el("span", "", p.body));
      node.addEventListener("click", function () { node.remove(); setStatus(p, "seen"); });
      toastArea().appendChild(node);
      setTimeout(function () { node.remove(); }, toastSeconds * 1000);
    }

    function headers() {
      return { "Authorization": "Bearer " + token, "Content-Type": "application/json" };
    }

    function setStatus(p, status, link) {
      var change = link ? { status: status, link: link } : { status: status };
      // keepalive: a CTA click navigates away, and the click must still be recorded.
      return fetch(base + "/prompts/" + encodeURIComponent(p.delivery_id) + "/status", {
        method: "POST", headers: headers(), body: JSON.stringify(change), keepalive: true
      }).then(function (response) {
        if (response.status === 401) return refreshToken().then(function () { return setStatus(p, status, link); });
        if (!response.ok) throw new Error("status change failed: HTTP " + response.status);
        return response.json().then(function (updated) { merge(updated); recount(); render(); return updated; });
      });
    }

    function recount() {
      unread = sorted().filter(function (p) { return p.status === "pending" && visible(p); }).length;
    }

    function post(path, body) {
      return fetch(base + path, { method: "POST", headers: headers(), body: JSON.stringify(body) })
        .then(function (response) {
          if (response.status === 401) return refreshToken().then(function () { return post(path, body); });
          if (!response.ok) throw new Error("POST " + path + " failed: HTTP " + response.status);
          return response.json();
        });
    }

    function snooze(p, until) {
      return post("/prompts/" + encodeURIComponent(p.delivery_id) + "/snooze", { until: until })
        .then(function (updated) { merge(updated); recount(); render(); return updated; });
    }

    function markAllSeen() {
      var now = new Date().toISOString();
      return post("/prompts/mark-all", { status: "seen", before: now }).then(function (result) {
        sorted().forEach(function (p) {
          if (p.status === "pending" && Date.parse(p.created_at) <= Date.parse(now)) merge(Object.assign({}, p, { status: "seen" }));
        });
        unread = result.unread;
        render();
        return result;
      });
    }

    function refreshToken() {
      if (typeof options.onTokenExpired !== "function") {
        state.textContent = "session expired";
        return Promise.reject(new Error("token expired and no onTokenExpired given"));
      }
      return Promise.resolve(options.onTokenExpired()).then(function (fresh) { token = fresh; });
    }

    var MARKS = { done: "\u2713", next: "\u2192", todo: "\u25CB", locked: "\uD83D\uDD12" };

    function renderChecklist(progress) {
      checklistNode.innerHTML = "";
      (progress.playbooks || []).forEach(function (pb) {
        var node = el("section", "nf-playbook");
        node.setAttribute("aria-label", pb.name);
        var name = el("div", "nf-playbook-name");
        name.appendChild(el("span", "", pb.name));
        name.appendChild(el("span", "nf-count", pb.done + " of " + pb.total));
        node.appendChild(name);
        var bar = el("div", "nf-bar");
        bar.setAttribute("role", "progressbar");
        bar.setAttribute("aria-valuemin", "0");
        bar.setAttribute("aria-valuemax", "100");
        bar.setAttribute("aria-valuenow", String(pb.percent));
        bar.setAttribute("aria-label", pb.name + ": " + pb.percent + "% done");
        var fill = el("div", "nf-bar-fill");
        fill.style.width = pb.percent + "%";
        bar.appendChild(fill);
        node.appendChild(bar);
        var steps = el("ul", "nf-steps");
        pb.steps.forEach(function (step) {
          var item = el("li", "nf-step nf-step-" + step.state);
          item.setAttribute("data-milestone-id", step.milestone_id);
          var mark = el("span", "nf-step-mark", MARKS[step.state] || "");
          mark.setAttribute("aria-hidden", "true");
          item.appendChild(mark);
          item.appendChild(el("span", "nf-step-title", step.title));
          item.appendChild(el("span", "nf-sr", " (" + (step.state === "todo" ? "to do" : step.state) + ")"));
          if (step.overdue) item.appendChild(el("span", "nf-overdue", "overdue"));
          if (step.state === "next" && step.cta && safeUrl(step.cta.url)) {
            var button = el("a", "nf-cta nf-cta-primary", step.cta.label);
            button.href = step.cta.url;
            item.appendChild(button);
          }
          steps.appendChild(item);
        });
        node.appendChild(steps);
        checklistNode.appendChild(node);
      });
    }

    function loadProgress() {
      return fetch(base + "/progress", { headers: headers() }).then(function (response) {
        if (response.status === 401) return refreshToken().then(loadProgress);
        if (!response.ok) return null;
        return response.json().then(renderChecklist);
      }).catch(function () {});
    }

    // The worker publishes a prompt before it stores the user's new state (a crash then replays the
    // event instead of losing the prompt), so a checklist read at once may be a moment behind: read it
    // now and once more shortly after. A slow refresh keeps due and overdue steps current.
    var progressTimers = [];
    function progressSoon() {
      loadProgress();
      progressTimers.forEach(clearTimeout);
      progressTimers = [setTimeout(loadProgress, 1500), setTimeout(loadProgress, 5000)];
    }
    var progressRefresh = setInterval(loadProgress, 60000);

    function connect() {
      if (stopped) return;
      // EventSource cannot send headers: the token goes in the query string (stream endpoint only).
      source = new EventSource(base + "/prompts/stream?token=" + encodeURIComponent(token));
      source.addEventListener("open", function () { state.textContent = "live"; });
      source.addEventListener("snapshot", function (event) {
        var data = JSON.parse(event.data);
        prompts = {};
        data.prompts.forEach(merge);
        unread = data.unread;
        render();
      });
      source.addEventListener("prompt", function (event) {
        var data = JSON.parse(event.data);
        var isNew = !prompts[data.prompt.delivery_id];
        merge(data.prompt);
        unread = data.unread;
        render();
        if (isNew && data.change === "created") {
          toast(data.prompt);
          progressSoon();  // a celebration means a step got done
        }
      });
      // The checklist, pushed whenever it may have changed (no polling needed while connected).
      source.addEventListener("progress", function (event) { renderChecklist(JSON.parse(event.data)); });
      source.addEventListener("error", function () {
        if (stopped) return;
        state.textContent = "reconnecting…";
        // The browser retries by itself unless the server refused us (e.g. 401): then ask for a new token.
        if (source.readyState === EventSource.CLOSED) {
          source = null;
          retryTimer = setTimeout(function () {
            refreshToken().then(connect, function () {});
          }, 1000);
        }
      });
    }

    render();
    loadProgress();
    connect();

    return {
      unmount: function () {
        stopped = true;
        if (retryTimer) clearTimeout(retryTimer);
        progressTimers.forEach(clearTimeout);
        clearInterval(progressRefresh);
        if (source) source.close();
        options.element.innerHTML = "";
      },
      setStatus: function (deliveryId, status) { return setStatus(prompts[deliveryId], status); },
      prompts: function () { return sorted(); },
      snooze: function (deliveryId, until) { return snooze(prompts[deliveryId], until); },
      markAllSeen: function () { return markAllSeen(); },
      unread: function () { return unread; },
      refreshProgress: function () { return loadProgress(); }
    };
  }

  global.Nudgeflow = { mount: mount, version: "1" };
})(window);
