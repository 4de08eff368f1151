// The import page follows its job: it polls the progress and reloads when the job is done.
(() => {
  const card = document.querySelector("[data-progress-url]");
  if (!card) return;
  const bar = card.querySelector("progress");
  const text = card.querySelector("[data-progress-text]");
  // As the server writes numbers on the page (1,000), whatever the browser's language.
  const number = new Intl.NumberFormat("en-US");

  async function poll() {
    try {
      const response = await fetch(card.dataset.progressUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.redirected || response.status === 401 || response.status === 403) {
        // The login ended: reloading shows the sign-in page, and then this page again.
        window.location.reload();
        return;
      }
      if (response.ok) {
        const state = await response.json();
        bar.max = state.total;
        bar.value = state.processed;
        text.textContent = `${number.format(state.processed)} of ${number.format(state.total)} lines (${state.percent}%)`;
        if (!state.running) {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // A dropped poll is retried at the next tick.
    }
    window.setTimeout(poll, 1000);
  }

  window.setTimeout(poll, 1000);
})();
