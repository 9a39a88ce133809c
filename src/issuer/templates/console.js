"use strict";
// The live logins list: entries arrive over Server-Sent Events and are built with
// textContent only, so nothing an action prints can become markup.
(() => {
  const stream = document.getElementById("stream");
  if (stream === null) return;
  const state = document.getElementById("stream-state");
  const byUser = document.getElementById("filter-user");
  const byAction = document.getElementById("filter-action");
  const entries = new WeakMap();

  const node = (tag, className, text) => {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  };

  const matches = (entry) => {
    const user = byUser.value.trim().toLowerCase();
    const action = byAction.value.trim().toLowerCase();
    return (!user || String(entry.user || "").toLowerCase().includes(user)) &&
      (!action || entry.actions.some((a) => a.name.toLowerCase().includes(action)));
  };

  const claims = (added) => {
    const list = node("ul", "claims");
    for (const [token, values] of Object.entries(added)) {
      for (const [name, value] of Object.entries(values)) {
        const item = node("li");
        // Auth0 namespaces custom claims with a URL; those are the ones claimguard reads.
        item.append(node("code", name.includes("://") ? "ns" : "", name),
          ` = ${JSON.stringify(value)} (${token})`);
        list.append(item);
      }
    }
    return list;
  };

  const render = (entry) => {
    const item = node("li", "entry");
    item.dataset.user = entry.user || "";
    const title = node("h3");
    const link = node("a", "", `${entry.time} · ${entry.user || "client credentials"}`);
    link.href = `/console/executions/${encodeURIComponent(entry.id)}`;
    title.append(link, " ", node("span", `outcome-${entry.outcome}`, entry.outcome));
    item.append(title, node("p", "meta",
      `client ${entry.client_id} · ${entry.grant} · ${entry.duration_ms} ms`));
    if (entry.outcome === "paused") {
      item.append(node("p", "meta", `waiting for ${entry.reason}`));
    } else if (entry.reason) {
      item.append(node("p", "outcome-denied", `denied: ${entry.reason}`));
    }
    if (entry.error_type && !entry.actions.some((a) => a.error)) {
      item.append(node("p", "outcome-failed", `error: ${entry.error_type}`));
    }
    for (const action of entry.actions) {
      const part = node("div", "action");
      part.append(node("strong", "", action.name), ` ${action.outcome} · ${action.duration_ms} ms`);
      if (action.logs.length) part.append(node("pre", "", action.logs.join("\n")));
      part.append(claims(action.claims_added));
      if (action.deny_reason) part.append(node("p", "outcome-denied", `denied: ${action.deny_reason}`));
      if (action.error) {
        const where = action.error_at ? ` at ${action.error_at}` : "";
        part.append(node("p", "outcome-failed", `${action.error}${where}`));
      }
      item.append(part);
    }
    entries.set(item, entry);
    return item;
  };

  const filter = () => {
    for (const item of stream.children) item.hidden = !matches(entries.get(item));
  };
  byUser.addEventListener("input", filter);
  byAction.addEventListener("input", filter);

  const source = new EventSource("/console/events");
  source.addEventListener("open", () => { state.textContent = "Connected: new logins appear here."; });
  source.addEventListener("error", () => { state.textContent = "Disconnected; retrying…"; });
  source.addEventListener("message", (message) => {
    const entry = JSON.parse(message.data);
    const item = render(entry);
    item.hidden = !matches(entry);
    stream.prepend(item);
  });
})();
