// Show only the fields that matter for the chosen kind of territory. Without this script
// every field shows, and the server ignores the ones the kind does not use.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("[data-territory-form]");
  const kind = form && form.querySelector("select[name='kind']");
  if (!kind) {
    return;
  }
  const update = () => {
    for (const block of form.querySelectorAll("[data-kinds]")) {
      block.hidden = !block.dataset.kinds.split(" ").includes(kind.value);
    }
  };
  kind.addEventListener("change", update);
  update();
});
