// Linli (邻里) resident chat page: posts to /api/chat and renders the bot's replies; pushes
// (case news, reminders, notices) arrive on /api/chat/events and are rendered the same way.
// Reply text is treated as hostile input and is only ever set via textContent.
"use strict";
(() => {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendBtn = document.getElementById("send");
  const errorHolder = document.querySelector("[data-error-text]");
  const errorText = (errorHolder && errorHolder.dataset.errorText) || "Network error. Please try again.";
  const newText = (errorHolder && errorHolder.dataset.newText) || "New";
  const lang = (document.documentElement.lang || "").toLowerCase().startsWith("en") ? "en" : "zh";
  const SAFE_URL = /^(https:\/\/|http:\/\/|\/)/;
  const MAX_ATTEMPTS = 3; // first try + 2 retries with the same message_id
  const TIMEOUT_MS = 30000;

  const STORED_ID = /^[A-Za-z0-9_-]{22,64}$/; // what the server takes in production

  // 128 random bits as 22 base64url characters. The id is the account's only credential, so it
  // comes from getRandomValues (a UUID has 122 random bits and needs a secure context).
  function randomId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const base64 = btoa(String.fromCharCode(...bytes));
    return base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function newUserId() {
    const id = randomId();
    try {
      localStorage.setItem("linli-user", id);
    } catch (e) {
      // storage blocked (e.g. private mode): the id lasts for this page only
    }
    return id;
  }

  function loadUserId() {
    try {
      const id = localStorage.getItem("linli-user");
      if (id && STORED_ID.test(id)) return id;
    } catch (e) {
      // storage blocked: fall through to an id for this page only
    }
    return newUserId();
  }

  let userId = loadUserId();
  let busy = false;

  const typing = document.createElement("div");
  typing.className = "typing";
  typing.setAttribute("aria-hidden", "true");
  typing.append(document.createElement("span"), document.createElement("span"), document.createElement("span"));

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function addBubble(classes, text) {
    const bubble = document.createElement("div");
    bubble.className = "msg " + classes;
    bubble.textContent = text;
    log.appendChild(bubble);
    return bubble;
  }

  // Renders one reply; returns its first option button (or null). A pushed reply is marked.
  function renderReply(reply, pushed) {
    const text = typeof reply.text === "string" ? reply.text : "";
    const link = reply.link;
    const hasLink = !!link && typeof link.url === "string" && SAFE_URL.test(link.url);
    if (text || hasLink) {
      const bubble = addBubble(pushed ? "bot push" : "bot", text);
      if (pushed) {
        const marker = document.createElement("span");
        marker.className = "push-marker";
        marker.textContent = newText;
        bubble.prepend(marker);
      }
      if (hasLink) {
        const a = document.createElement("a");
        a.className = "link";
        a.href = link.url;
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        a.textContent = (typeof link.label === "string" && link.label) || link.url;
        bubble.appendChild(a);
      }
    }
    let first = null;
    const group = document.createElement("div");
    group.className = "options";
    for (const b of Array.isArray(reply.buttons) ? reply.buttons : []) {
      if (!b || typeof b.payload !== "string") continue;
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "option";
      btn.dataset.payload = b.payload;
      btn.textContent = (typeof b.label === "string" && b.label) || b.payload;
      group.appendChild(btn);
      if (!first) first = btn;
    }
    if (first) log.appendChild(group);
    return first;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function postOnce(body) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    try {
      const res = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body,
        signal: ctrl.signal,
      });
      const data = await res.json().catch(() => null);
      return { status: res.status, ok: res.ok, data };
    } finally {
      clearTimeout(timer);
    }
  }

  // Resolves to {replies: [...]} or {error: "text"}; never throws.
  async function request(fields) {
    const body = JSON.stringify({ user: userId, message_id: randomId(), lang, ...fields });
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(600 * (attempt - 1));
      let res;
      try {
        res = await postOnce(body);
      } catch (e) {
        continue; // network failure or timeout: retry with the same message_id
      }
      const data = res.data;
      if (res.ok && data && Array.isArray(data.replies)) return { replies: data.replies };
      if (res.status >= 500 && attempt < MAX_ATTEMPTS) continue;
      const polite = data && typeof data.error === "string" && data.error.trim();
      return { error: polite ? data.error : errorText };
    }
    return { error: errorText };
  }

  function setBusy(on) {
    busy = on;
    sendBtn.disabled = on;
    log.setAttribute("aria-busy", on ? "true" : "false");
    if (on) log.appendChild(typing);
    else typing.remove();
  }

  async function send(fields, shownText) {
    if (busy) return;
    if (shownText) addBubble("user", shownText);
    setBusy(true);
    scrollToEnd();
    const result = await request(fields);
    setBusy(false);
    let focusTarget = input;
    if (result.replies && result.replies.length) {
      const first = showReplies(result.replies, false);
      if (first) focusTarget = first;
    } else if (result.error) {
      addBubble("bot error", result.error);
    }
    focusTarget.focus({ preventScroll: true });
    scrollToEnd();
  }

  // Shows a list of replies; only the newest menu stays active. Returns the first option.
  function showReplies(replies, pushed) {
    log.querySelectorAll("button.option").forEach((b) => { b.disabled = true; });
    let first = null;
    for (const reply of replies) {
      if (!reply || typeof reply !== "object") continue;
      const option = renderReply(reply, pushed);
      if (option && !first) first = option;
    }
    return first;
  }

  // Pushes: an EventSource for this id once the server knows it. Each event is one delivery
  // (id = its number); it is shown once, then reported seen so it is not offered again.
  let events = null;
  const shownPushes = new Set(); // by id: a reconnected stream offers unmarked ones again
  let retryMs = 2000;
  let reopenTimer = null;

  function showPush(event) {
    const id = Number(event.lastEventId);
    if (!Number.isSafeInteger(id) || id <= 0 || shownPushes.has(id)) return;
    let data = null;
    try {
      data = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (!data || !Array.isArray(data.replies)) return;
    shownPushes.add(id);
    const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    showReplies(data.replies, true);
    if (atEnd || !busy) scrollToEnd();
    fetch("/api/chat/seen", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ user: userId, ids: [id] }),
    }).catch(() => {}); // not marked: offered again next time, and skipped here by its id
  }

  function openEvents() {
    if (events || typeof EventSource === "undefined") return;
    clearTimeout(reopenTimer);
    const source = new EventSource("/api/chat/events?user=" + encodeURIComponent(userId));
    events = source;
    source.onopen = () => { retryMs = 2000; };
    source.onmessage = showPush;
    // The browser reconnects by itself after a dropped stream; a refused one (204, 429, 5xx)
    // closes it for good, so the page tries again later, waiting longer each time.
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED || events !== source) return;
      events = null;
      reopenTimer = setTimeout(openEvents, retryMs);
      retryMs = Math.min(retryMs * 2, 60000);
    };
  }

  function closeEvents() {
    clearTimeout(reopenTimer);
    if (events) events.close();
    events = null;
    shownPushes.clear();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    send({ text }, text);
  });

  log.addEventListener("click", (event) => {
    const btn = event.target.closest("button.option");
    if (!btn || btn.disabled || busy) return;
    send({ payload: btn.dataset.payload }, btn.textContent);
  });

  // "New identity": the server unlinks the old id from the person, the page forgets it and
  // starts again with a fresh one, so the old conversation cannot be reached from here.
  const forgetBtn = document.getElementById("forget");
  async function forget() {
    if (busy || !window.confirm(forgetBtn.dataset.confirm || "")) return;
    setBusy(true);
    const result = await request({ payload: "binding:forget" });
    setBusy(false);
    closeEvents();
    userId = newUserId();
    log.replaceChildren();
    for (const reply of result.replies || []) {
      if (reply && typeof reply.text === "string" && reply.text) addBubble("bot", reply.text);
    }
    if (result.error) addBubble("bot error", result.error);
    await send({ payload: "menu" }, null);
    openEvents();
  }
  if (forgetBtn) forgetBtn.addEventListener("click", forget);

  // Greeting + main menu; then the pushes (the account exists once the greeting is answered),
  // starting with any that arrived while the page was closed.
  send({ payload: "menu" }, null).then(openEvents);
})();
