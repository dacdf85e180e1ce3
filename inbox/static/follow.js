// Follows a run live: the server sends its status as it changes, and "moved" once the run
// is past the moment this page showed (the decision it waited for, or a final state).
document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  const source = new EventSource(live.dataset.follow);
  source.addEventListener("status", (event) => {
    live.innerHTML = JSON.parse(event.data).html;
  });
  source.addEventListener("moved", (event) => {
    live.innerHTML = JSON.parse(event.data).html;
    source.close();
    const decide = document.getElementById("decide");
    if (!decide) return;
    const hadFocus = decide.contains(document.activeElement);
    decide.remove();
    const moved = document.getElementById("moved");
    moved.hidden = false;
    if (hadFocus) moved.focus();
  });
});
