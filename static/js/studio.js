"use strict";
/* What htmx does not show by itself: a refused request (413 too large, 429 too many, a 5xx)
   answers with a sentence, which is put at the top of the page instead of being dropped. */
document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  const type = xhr.getResponseHeader("Content-Type") || "";
  const text = type.startsWith("text/plain") && xhr.responseText
    ? xhr.responseText
    : `The studio could not do that (HTTP ${xhr.status}). Try again in a moment.`;
  let box = document.getElementById("request-error");
  if (!box) {
    box = document.createElement("p");
    box.id = "request-error";
    box.className = "alert alert-error";
    box.setAttribute("role", "alert");
    document.getElementById("main").prepend(box);
  }
  box.textContent = text;
  box.scrollIntoView({ block: "center" });
});

/* A session that ended in another tab: the server sends htmx to the login page (HX-Redirect,
   with `next` back here). What was typed in this page's forms is kept for the way back and put
   back when this page opens again, so a long prompt is not lost to a login. */
const KEPT = "studio:typed-before-login";
document.addEventListener("htmx:beforeOnLoad", (event) => {
  const target = event.detail.xhr.getResponseHeader("HX-Redirect") || "";
  if (!target.startsWith("/accounts/login/")) return;
  const fields = [];
  document.querySelectorAll("form[id] [name]").forEach((field) => {
    if (!("value" in field) || ["hidden", "file", "password", "submit", "button"].includes(field.type)) return;
    const checkable = field.type === "checkbox" || field.type === "radio";
    fields.push({ form: field.form && field.form.id, name: field.name, value: field.value,
                  checked: checkable ? field.checked : null });
  });
  sessionStorage.setItem(KEPT, JSON.stringify({ page: location.pathname + location.search, fields }));
});
document.addEventListener("DOMContentLoaded", () => {
  const kept = JSON.parse(sessionStorage.getItem(KEPT) || "null");
  if (!kept || kept.page !== location.pathname + location.search) return;
  sessionStorage.removeItem(KEPT);
  kept.fields.forEach(({ form, name, value, checked }) => {
    const owner = form && document.getElementById(form);
    if (!owner) return;
    owner.querySelectorAll(`[name="${CSS.escape(name)}"]`).forEach((field) => {
      if (checked === null) field.value = value;
      else if (field.value === value) field.checked = checked;
    });
  });
});

/* Keyboard: Escape closes an open menu (and gives focus back to its button); Ctrl/Cmd+Enter
   runs the job on Create and sends the message on Chat. */
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    const open = document.querySelector("details[name='header-menu'][open]");
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    }
    return;
  }
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    const form = event.target.closest && event.target.closest("#generation-form, #chat-form");
    const run = form && form.querySelector("#run-button");  // Chat's form has no Run button
    if (form && !(run && run.disabled)) {
      event.preventDefault();
      form.requestSubmit(run || undefined);
    }
  }
});

/* Length limits: a counter under each text field that has one ("123 / 5,000"), in the error style
   and saying how many over above it. The field has no `maxlength`, which would cut a pasted
   prompt short without a word; the server refuses what is over. Fields swapped in by htmx get
   theirs too. Characters are counted as the server counts them (code points, a line break one). */
const NUMBER = new Intl.NumberFormat("en");
const plural = (n, word) => `${NUMBER.format(n)} ${word}${n === 1 ? "" : "s"}`;

function countCharacters(field) {
  const limit = Number(field.dataset.maxLength);
  if (!limit) return;
  let counter = document.getElementById(`${field.id}_count`);
  if (!counter) {
    counter = document.createElement("p");
    counter.id = `${field.id}_count`;
    counter.className = "char-count";
    const said = document.createElement("span");  // a sibling: not read twice with the field
    said.id = `${field.id}_count_said`;
    said.className = "visually-hidden";
    said.setAttribute("role", "status");
    field.after(counter, said);
    const described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    field.setAttribute("aria-describedby", [...described, counter.id].join(" "));
  }
  const length = [...field.value].length;
  const over = length - limit;
  counter.textContent = `${NUMBER.format(length)} / ${NUMBER.format(limit)}`
    + (over > 0 ? ` · ${plural(over, "character")} over the limit` : "");
  if (counter.classList.contains("over") !== over > 0) {  // said out loud only when it changes
    document.getElementById(`${field.id}_count_said`).textContent = over > 0
      ? `${plural(over, "character")} over the limit of ${NUMBER.format(limit)}.` : "";
  }
  counter.classList.toggle("over", over > 0);
  field.classList.toggle("over-limit", over > 0);
}
function countAll(root) {
  if (root.matches && root.matches("[data-max-length]")) countCharacters(root);
  if (root.querySelectorAll) root.querySelectorAll("[data-max-length]").forEach(countCharacters);
}
document.addEventListener("input", (event) => {
  if (event.target.matches && event.target.matches("[data-max-length]")) countCharacters(event.target);
});
document.addEventListener("htmx:load", (event) => countAll(event.detail.elt));
document.addEventListener("DOMContentLoaded", () => countAll(document));  // after the kept text

/* Choosing a model on Create: the keyboard goes on in its form's first field, not back at the
   list of models. */
document.addEventListener("htmx:afterSettle", (event) => {
  const config = event.detail.requestConfig;
  if (!config || config.verb !== "get" || event.detail.target.id !== "model-panel") return;
  const form = document.getElementById("generation-form");
  const first = form && form.querySelector(
    "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])");
  if (first) first.focus();
});

/* Copy buttons (the workspace's invitation links; chat.js's Copy of a reply uses copyText too):
   the text of the element named by data-copy goes on the clipboard and the button says "Copied"
   for a moment. Without JavaScript the buttons
   stay hidden and the link is text to select. */
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea"); // plain http
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy refused");
}
function showCopyButtons(root) {
  if (root.querySelectorAll) root.querySelectorAll(".copy-button[hidden]").forEach((b) => { b.hidden = false; });
}
document.addEventListener("DOMContentLoaded", () => showCopyButtons(document));
document.addEventListener("htmx:load", (event) => showCopyButtons(event.detail.elt));
document.addEventListener("click", async (event) => {
  const button = event.target.closest && event.target.closest(".copy-button");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.status);
  const label = button.dataset.label || (button.dataset.label = button.textContent);
  const what = button.dataset.what || "link";  // what the sentences name: the link, the prompt
  try {
    await copyText(source.textContent.trim());
    button.textContent = "Copied";
    if (status) status.textContent = `Copied the ${what}.`;
    clearTimeout(button.copiedTimer);
    button.copiedTimer = setTimeout(() => {
      button.textContent = label;
      if (status) status.textContent = "";
    }, 2000);
  } catch (error) {
    getSelection().selectAllChildren(source);
    if (status) status.textContent = `The browser refused to copy: the ${what} is selected, press Ctrl+C (⌘C).`;
  }
});

/* Lightbox: a result image on its job's page opens full size over the page (Escape, Close or a
   click beside it closes it, the keyboard goes back to the image). Without JavaScript, or with
   a modifier key, the link opens the file itself. */
function lightbox() {
  let dialog = document.getElementById("lightbox");
  if (dialog) return dialog;
  dialog = document.createElement("dialog");
  dialog.id = "lightbox";
  dialog.className = "lightbox";
  dialog.setAttribute("aria-label", "Result at full size");
  dialog.innerHTML = '<figure><img alt=""><figcaption class="small"></figcaption></figure>'
    + '<p class="lightbox-actions"><a class="button small" target="_blank" rel="noopener">Open the file</a> '
    + '<button type="button" class="button small primary">Close</button></p>';
  dialog.querySelector("button").addEventListener("click", () => dialog.close());
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => { if (dialog.opener) dialog.opener.focus(); });
  document.body.append(dialog);
  return dialog;
}
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.lightbox-link");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  const dialog = lightbox();
  const thumb = link.querySelector("img");
  dialog.querySelector("img").src = link.href;
  dialog.querySelector("img").alt = thumb ? thumb.alt : "";
  dialog.querySelector("figcaption").textContent = link.dataset.lightbox || "";
  dialog.querySelector("a").href = link.href;
  dialog.opener = link;
  dialog.showModal();
});

/* The gallery picker's search box and "Load more" need htmx: shown only where it runs (without
   JavaScript the picker is plain radio buttons and checkboxes). */
function showPickerTools(root) {
  if (!root.querySelectorAll) return;
  root.querySelectorAll(".picks-search[hidden], .picks-more[hidden]").forEach((el) => { el.hidden = false; });
  /* Typing a search is not a change of the job: the form's estimate does not hear it. */
  root.querySelectorAll(".picks-search").forEach((el) => {
    if (el.dataset.quiet) return;
    el.dataset.quiet = "1";
    ["input", "change"].forEach((type) => el.addEventListener(type, (event) => event.stopPropagation()));
  });
}
document.addEventListener("DOMContentLoaded", () => showPickerTools(document));
document.addEventListener("htmx:load", (event) => showPickerTools(event.detail.elt));

/* A file dropped on, or pasted into, an image input goes into its upload field (the server
   checks its type and size as for a chosen file), and its name and a thumbnail show. */
function uploadFieldOf(box) {
  return box && box.querySelector("input[type=file][name$='__upload'][accept^='image/']");
}
function takeFiles(field, files) {
  const images = Array.from(files);  // its type and size are checked by the server
  if (!images.length) return false;
  const transfer = new DataTransfer();
  if (field.multiple) Array.from(field.files).forEach((file) => transfer.items.add(file));
  (field.multiple ? images : images.slice(0, 1)).forEach((file) => transfer.items.add(file));
  field.files = transfer.files;
  field.dispatchEvent(new Event("change", { bubbles: true }));
  return true;
}
function showChosenFiles(field) {
  const box = field.closest(".field") || field.parentElement;
  let list = box.querySelector(".drop-previews");
  if (!list) {
    list = document.createElement("div");
    list.className = "drop-previews";
    list.setAttribute("aria-live", "polite");
    box.append(list);
  }
  list.replaceChildren();
  Array.from(field.files).forEach((file) => {
    const item = document.createElement("p");
    item.className = "drop-preview";
    const name = document.createElement("span");
    name.textContent = file.name || "pasted image";
    if (file.type.startsWith("image/")) {
      const img = document.createElement("img");
      img.alt = "";
      const reader = new FileReader();  // a data: URL: the CSP allows those, not blob:
      reader.addEventListener("load", () => { img.src = reader.result; });
      reader.readAsDataURL(file);
      item.append(img);
    }
    item.append(name);
    list.append(item);
  });
}
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.matches && field.matches("input[type=file][name$='__upload']")) showChosenFiles(field);
});
document.addEventListener("dragover", (event) => {
  const box = event.target.closest && event.target.closest(".media-input");
  if (!uploadFieldOf(box) || !event.dataTransfer.types.includes("Files")) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
  box.classList.add("drop-over");
});
document.addEventListener("dragleave", (event) => {
  const box = event.target.closest && event.target.closest(".media-input");
  if (box && !box.contains(event.relatedTarget)) box.classList.remove("drop-over");
});
document.addEventListener("drop", (event) => {
  const box = event.target.closest && event.target.closest(".media-input");
  const field = uploadFieldOf(box);
  if (!field) return;
  box.classList.remove("drop-over");
  if (event.dataTransfer && event.dataTransfer.files.length && takeFiles(field, event.dataTransfer.files)) {
    event.preventDefault();
  }
});
document.addEventListener("paste", (event) => {
  const box = event.target.closest && event.target.closest(".media-input");
  const field = uploadFieldOf(box);
  const files = event.clipboardData && event.clipboardData.files;
  if (field && files && files.length && takeFiles(field, files)) event.preventDefault();
});

/* The Create page's running cards are refreshed together: one request every 2 s for all of them
   (jobs.cards answers each card out of band), none while nothing runs. Cards elsewhere (a job's
   page, Approvals) poll on their own through htmx. */
let cardsTimer = null;
function refreshCards() {
  cardsTimer = null;
  const list = document.querySelector("[data-cards-url]");
  const codes = [...document.querySelectorAll("[data-poll-batch]")].map((c) => c.dataset.pollBatch);
  if (!list || !codes.length) return;
  const query = codes.map((code) => "code=" + encodeURIComponent(code)).join("&");
  htmx.ajax("GET", list.dataset.cardsUrl + "?" + query, { source: list, swap: "none" })
    .finally(scheduleCards);
}
function scheduleCards() {
  if (!cardsTimer && document.querySelector("[data-poll-batch]")) {
    cardsTimer = setTimeout(refreshCards, 2000);
  }
}
document.addEventListener("DOMContentLoaded", scheduleCards);
document.addEventListener("htmx:load", scheduleCards);

/* A running card's seconds and progress bar count on in the page, every second, from the times
   it carries (data-since, data-accepted, data-expected; the server's clock, from the page's
   data-server-now). The server answers a poll of unchanged cards with 304 (jobs._cards_etag), so
   the card the browser already holds keeps counting. */
let serverOffset = 0;
function tickCards() {
  const now = Date.now() / 1000 + serverOffset;
  document.querySelectorAll(".job-time[data-since]").forEach((time) => {
    time.textContent = Math.max(0, Math.round(now - Number(time.dataset.since))) + " s";
  });
  document.querySelectorAll("progress[data-accepted]").forEach((bar) => {
    const expected = Math.max(1, Number(bar.dataset.expected) || 1);
    const share = (100 * (now - Number(bar.dataset.accepted))) / expected;
    bar.value = Math.max(3, Math.min(95, Math.round(share)));
    bar.textContent = bar.value + "%";
  });
}
document.addEventListener("DOMContentLoaded", () => {
  // The server read its clock as it wrote the page: compare it with when the page began to
  // arrive (not when it was parsed, which a busy machine delays by a second or more).
  const server = Number(document.body.dataset.serverNow);
  const arrival = performance.getEntriesByType("navigation")[0];
  const arrived = arrival ? performance.timeOrigin + arrival.responseStart : Date.now();
  if (server) serverOffset = server - arrived / 1000;
  setInterval(tickCards, 1000);
});

/* The gallery's ticks: how many are chosen, and the buttons that act on them enabled only then. */
function showSelection() {
  const bar = document.getElementById("gallery-selection");
  if (!bar) return;
  const count = document.querySelectorAll("input[name=code][form=gallery-selection]:checked").length;
  bar.querySelectorAll("[data-needs-selection]").forEach((button) => { button.disabled = count === 0; });
  const label = bar.querySelector(".selection-count");
  if (label) {
    if (!label.dataset.hint) label.dataset.hint = label.textContent;
    label.textContent = count ? `${count} chosen` : label.dataset.hint;
  }
}
document.addEventListener("change", (event) => {
  if (event.target.matches && event.target.matches("input[name=code][form=gallery-selection]")) showSelection();
});
document.addEventListener("DOMContentLoaded", showSelection);
document.addEventListener("htmx:afterSettle", showSelection);

/* Gallery videos play, muted, while the pointer is on them or they have the focus; nothing of
   them loads before (preload="none"). */
function hoverVideo(event, play) {
  const box = event.target.closest && event.target.closest(".gallery-media");
  const video = box && box.querySelector("video.hover-play");
  if (!video) return;
  if (play) video.play().catch(() => {});
  else video.pause();
}
document.addEventListener("mouseover", (event) => hoverVideo(event, true));
document.addEventListener("mouseout", (event) => {
  const box = event.target.closest && event.target.closest(".gallery-media");
  if (box && !box.contains(event.relatedTarget)) hoverVideo(event, false);
});
document.addEventListener("focusin", (event) => hoverVideo(event, true));
document.addEventListener("focusout", (event) => hoverVideo(event, false));

/* "Compare chosen": the ticked results (2 to 4) side by side on the Compare page. Shown only
   where JavaScript runs: the selection form posts, and Compare is a plain address. */
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-compare][hidden]").forEach((button) => { button.hidden = false; });
});
document.addEventListener("htmx:load", (event) => {
  if (event.detail.elt.querySelectorAll) event.detail.elt.querySelectorAll("[data-compare][hidden]").forEach((button) => { button.hidden = false; });
});
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("[data-compare]");
  if (!button) return;
  const codes = Array.from(document.querySelectorAll("input[name=code][form=gallery-selection]:checked")).map((box) => box.value);
  const query = new URLSearchParams(codes.slice(0, 4).map((code) => ["code", code]));
  window.location.assign(`${button.dataset.compare}?${query}`);
});
