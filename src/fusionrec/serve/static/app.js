// The fusionrec demo page: plain JavaScript over the HTTP API (no build step).
// Text from the API is always inserted with textContent, never as HTML.
"use strict";

const K = 12;
const COLOURS = ["#5c6bc0", "#26a69a", "#ef6c00", "#8d6e63", "#ab47bc", "#9e9d24"];
const state = { user: null, modelInfo: null };
const $ = (id) => document.getElementById(id);

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.className = isError ? "error" : "";
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

const enc = encodeURIComponent;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function poster(item, className) {
  if (!item.poster_url) return element("div", `noposter ${className || ""}`, "no poster");
  const img = element("img", className);
  img.src = item.poster_url;
  img.alt = item.title;
  img.loading = "lazy";
  return img;
}

function listEntry(item, tagText) {
  const li = element("li");
  li.dataset.itemId = item.item_id;
  li.append(poster(item), element("span", "title", item.title));
  if (tagText) li.append(element("span", "tag", tagText));
  return li;
}

async function loadModelInfo() {
  const info = await api("/v1/model");
  state.modelInfo = info;
  const modalities = info.modalities.length ? info.modalities.join(", ") : "ids only";
  $("model-info").textContent = `${info.component} · ${info.n_items} items · ${info.n_users} users · ${modalities}`;
}

async function loadUsers() {
  const page = await api("/v1/users?limit=200");
  const select = $("user-select");
  for (const user of page.users) select.append(new Option(user, user));
}

async function showUser(userId) {
  state.user = userId;
  setStatus(`loading ${userId}...`);
  try {
    await Promise.all([showHistory(userId), showRecommendations(userId)]);
    setStatus(`user ${userId}`);
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function showHistory(userId) {
  const history = await api(`/v1/users/${enc(userId)}/history?limit=50`);
  const list = $("history");
  list.replaceChildren(...history.items.map((entry) => listEntry(entry.item, entry.source)));
  $("history-count").textContent = history.known ? `(${history.items.length} shown)` : "(new user)";
}

async function showRecommendations(userId) {
  const recs = await api(`/v1/users/${enc(userId)}/recommendations?k=${K}`);
  $("strategy").textContent = `(${recs.strategy})`;
  const cards = recs.items.map((item) => recommendationCard(userId, item));
  $("recommendations").replaceChildren(...cards);
  if (state.modelInfo && state.modelInfo.can_explain && recs.strategy !== "popularity") {
    await Promise.all(recs.items.map((item, i) => showContributions(userId, item, cards[i])));
  }
}

function recommendationCard(userId, item) {
  const card = element("article", "rec-card");
  card.dataset.itemId = item.item_id;
  const like = element("button", "like", "Like");
  like.type = "button";
  like.addEventListener("click", () => recordLike(userId, item.item_id));
  const similar = element("button", "similar", "Similar");
  similar.type = "button";
  similar.addEventListener("click", () => showSimilar(item));
  const actions = element("div", "actions");
  actions.append(like, similar);
  card.append(
    poster(item, "poster"),
    element("div", "title", item.title),
    element("div", "score", `#${item.rank} · score ${item.score.toFixed(3)}`),
    element("div", "bar"),
    element("div", "legend"),
    actions,
  );
  return card;
}

async function showContributions(userId, item, card) {
  try {
    const why = await api(`/v1/users/${enc(userId)}/explanations/${enc(item.item_id)}?because=2`);
    const bar = card.querySelector(".bar");
    const legend = card.querySelector(".legend");
    const total = why.contributions.reduce((sum, c) => sum + Math.abs(c.score), 0) || 1;
    const parts = why.contributions.map((c, i) => {
      const span = element("span");
      span.style.width = `${(100 * Math.abs(c.score)) / total}%`;
      span.style.background = COLOURS[i % COLOURS.length];
      span.title = `${c.name}: ${c.score.toFixed(3)}`;
      return span;
    });
    bar.replaceChildren(...parts);
    const shares = why.contributions.map((c) => `${c.name} ${Math.round(100 * c.share)}%`).join(" · ");
    const because = why.because.map((b) => b.item.title).join(", ");
    legend.textContent = because ? `${shares} — because you liked ${because}` : shares;
  } catch (error) {
    card.querySelector(".legend").textContent = `no explanation (${error.message})`;
  }
}

async function showSimilar(item) {
  try {
    const similar = await api(`/v1/items/${enc(item.item_id)}/similar?k=8`);
    $("similar-to").textContent = `to ${item.title}`;
    $("similar").replaceChildren(...similar.items.map((s) => listEntry(s, s.score.toFixed(2))));
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function recordLike(userId, itemId) {
  const key = $("api-key").value;
  // sessionStorage, not localStorage: the key is gone when the tab closes and never shared with other tabs
  sessionStorage.setItem("fusionrec-api-key", key);
  try {
    await api("/v1/events", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": key },
      body: JSON.stringify({ user_id: userId, item_id: itemId, type: "like", idempotency_key: newKey() }),
    });
    setStatus(`liked ${itemId}; updating...`);
    await showUser(userId);
  } catch (error) {
    setStatus(`could not record the like: ${error.message}`, true);
  }
}

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function chosenUser() {
  return $("user-input").value.trim() || $("user-select").value;
}

async function start() {
  localStorage.removeItem("fusionrec-api-key"); // a key an older page version kept for good
  $("api-key").value = sessionStorage.getItem("fusionrec-api-key") || "";
  $("load-user").addEventListener("click", () => showUser(chosenUser()));
  $("user-select").addEventListener("change", () => {
    $("user-input").value = "";
    showUser(chosenUser());
  });
  try {
    await Promise.all([loadModelInfo(), loadUsers()]);
    setStatus("choose a user");
  } catch (error) {
    setStatus(error.message, true);
  }
}

start();
