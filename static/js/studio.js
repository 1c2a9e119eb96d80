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
