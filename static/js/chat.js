/* Streams waiting replies in with EventSource; without it the page still works (the reply is
   fetched before the page comes back). While a reply streams it shows as plain text; the
   finished bubble the server sends at the end is the rendered, sanitised Markdown. Stop, Copy
   and Edit's focus are here too. */
(() => {
  document.documentElement.classList.add("chat-js"); // shows the buttons that need JavaScript
  const read = (event) => JSON.parse(event.data);
  const sources = new WeakMap(); // bubble → its EventSource

  function replaceBubble(bubble, html) {
    const holder = document.createElement("template");
    holder.innerHTML = html.trim();
    const done = holder.content.firstElementChild;
    const thoughts = bubble.querySelector(".thoughts");
    const openThoughts = done.querySelector(".thoughts");
    if (openThoughts && thoughts) openThoughts.open = thoughts.open;
    const source = sources.get(bubble);
    if (source) source.close();
    bubble.replaceWith(done);
    if (window.htmx) window.htmx.process(done); // its Regenerate and Edit forms post with htmx
  }

  function start(bubble) {
    if (bubble.dataset.started) return;
    bubble.dataset.started = "1";
    const text = bubble.querySelector(".bubble-text");
    const thoughts = bubble.querySelector(".thoughts");
    const status = bubble.querySelector(".bubble-status");
    const source = new EventSource(bubble.dataset.stream);
    sources.set(bubble, source);
    const finish = (event) => replaceBubble(bubble, read(event).html);
    source.addEventListener("open", () => {
      if (status && !bubble.dataset.stopping) status.textContent = "Gemini is writing…";
    });
    source.addEventListener("thought", (event) => {
      thoughts.hidden = false;
      thoughts.querySelector(".thoughts-text").append(read(event).text);
    });
    source.addEventListener("token", (event) => text.append(read(event).text));
    source.addEventListener("done", finish);
    source.addEventListener("failed", finish);
    source.addEventListener("error", () => {
      source.close();
      bubble.removeAttribute("aria-busy");
      if (status) status.textContent = "The connection dropped. Reload the page to see the reply.";
    });
  }

  // Stop: the server marks the reply; the stream answering it ends and sends the finished
  // bubble (billed as the service bills it). A reply not sent yet comes back ended at once.
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest(".bubble-stop");
    if (!form) return;
    event.preventDefault();
    const bubble = form.closest(".bubble");
    const status = bubble.querySelector(".bubble-status");
    const button = form.querySelector("button");
    button.disabled = true;
    bubble.dataset.stopping = "1";
    if (status) status.textContent = "Stopping…";
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "HX-Request": "true" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
      if (response.status === 200) replaceBubble(bubble, await response.text());
    } catch (error) {
      button.disabled = false;
      delete bubble.dataset.stopping;
      if (status) status.textContent = "Stop did not reach the studio; try again.";
    }
  });

  // copyText (studio.js, loaded first on every page) puts text on the clipboard.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest(".bubble-copy");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    const status = button.parentElement.querySelector(".copy-status");
    try {
      await copyText(source.content.textContent);
      if (status) status.textContent = "Copied.";
    } catch (error) {
      if (status) status.textContent = "Copying was refused by the browser; select the text instead.";
    }
  });

  // Edit: the box to type in gets the focus when it opens.
  document.addEventListener("toggle", (event) => {
    const details = event.target;
    if (details.matches && details.matches(".bubble-edit") && details.open) {
      const area = details.querySelector("textarea");
      if (area) area.focus();
    }
  }, true);

  function scan(root) {
    if (root.matches && root.matches("[data-stream]")) start(root);
    if (root.querySelectorAll) root.querySelectorAll("[data-stream]").forEach(start);
  }
  document.addEventListener("htmx:load", (event) => scan(event.detail.elt));
  scan(document);
})();
