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
