/* Streams waiting replies in with EventSource; without it the page still works (the reply is
   fetched before the page comes back). */
(() => {
  const read = (event) => JSON.parse(event.data);
  function start(bubble) {
    if (bubble.dataset.started) return;
    bubble.dataset.started = "1";
    const text = bubble.querySelector(".bubble-text");
    const thoughts = bubble.querySelector(".thoughts");
    const status = bubble.querySelector(".bubble-status");
    const source = new EventSource(bubble.dataset.stream);
    const finish = (event) => {
      source.close();
      const holder = document.createElement("template");
      holder.innerHTML = read(event).html.trim();
      const done = holder.content.firstElementChild;
      const openThoughts = done.querySelector(".thoughts");
      if (openThoughts && thoughts) openThoughts.open = thoughts.open;
      bubble.replaceWith(done);
    };
    source.addEventListener("open", () => { if (status) status.textContent = "Gemini is writing…"; });
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
  function scan(root) {
    if (root.matches && root.matches("[data-stream]")) start(root);
    if (root.querySelectorAll) root.querySelectorAll("[data-stream]").forEach(start);
  }
  document.addEventListener("htmx:load", (event) => scan(event.detail.elt));
  scan(document);
})();
