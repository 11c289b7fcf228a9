// The call page: a finding's ▶ button plays the recording from the evidence's time.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.seek");
  var player = document.getElementById("recording");
  if (!button || !player) return;
  player.currentTime = parseFloat(button.dataset.seek) || 0;
  player.play();
});
