// keyfleet console: small enhancements over pages that work without script.
"use strict";

function enhance(root) {
  // The region selector moves to the chosen region at once.
  root.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  // A .pub file chosen for import fills the public key field.
  root.querySelectorAll("input[type=file][data-fills]").forEach((input) => {
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      const target = document.getElementById(input.dataset.fills);
      if (file && target) target.value = (await file.text()).trim();
    });
  });

  // A choice that needs more fields (the launch wizard's "Create new key pair") shows them.
  root.querySelectorAll("select[data-reveals]").forEach((select) => {
    const target = document.getElementById(select.dataset.reveals);
    const update = () => { if (target) target.hidden = select.value !== select.dataset.revealValue; };
    select.addEventListener("change", update);
    update();
  });

  // A running automation's steps update in place until it ends.
  root.querySelectorAll("[data-refresh][data-live=true]").forEach((section) => {
    setTimeout(() => refresh(section), 1000);
  });

  // Forms whose answer is a file (a new private key): download it, then go on to the page
  // the server names. A refusal's page replaces this one, as a plain submission would show it.
  root.querySelectorAll("form[data-download]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      download(form);
    });
  });
}

async function refresh(section) {
  let response;
  try {
    response = await fetch(section.dataset.refresh, { credentials: "same-origin", cache: "no-store" });
  } catch (e) {
    setTimeout(() => refresh(section), 2000);
    return;
  }
  if (!response.ok) return;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.getElementById(section.id);
  if (!fresh) return;
  const adopted = document.adoptNode(fresh);
  section.replaceWith(adopted);
  if (adopted.dataset.live === "true") setTimeout(() => refresh(adopted), 1000);
}

async function download(form) {
  const submit = form.querySelector("[type=submit]");
  if (submit) submit.disabled = true;
  let response;
  try {
    response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (e) {
    if (submit) submit.disabled = false;
    return;
  }
  if (response.redirected && response.ok) {
    window.location.assign(response.url);
    return;
  }
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  if (!response.ok || !named) {
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    document.title = page.title;
    document.body.replaceWith(document.adoptNode(page.body));
    enhance(document.body);
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = named[1];
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
  const next = response.headers.get("X-Keyfleet-Next");
  if (next) window.location.assign(next);
}

enhance(document);
