// A browser-style client: the global WebSocket of `node --experimental-websocket` (the same API as a
// browser's), authenticating with subprotocols as browsers must. Prints one JSON line.
// usage: node --experimental-websocket browser_style_client.mjs URL KEY ga|beta
const [url, key, generation] = process.argv.slice(2);
const beta = generation === "beta";
const protocols = ["realtime", `openai-insecure-api-key.${key}`];
if (beta) protocols.push("openai-beta.realtime-v1");
const ws = new WebSocket(url, protocols);
const report = { protocol: null, first: null, transcript: null };
const timer = setTimeout(() => fail("timed out"), 15000);

function fail(message) {
  console.error(message);
  process.exit(1);
}

ws.onopen = () => {
  report.protocol = ws.protocol;
  const item = { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] };
  ws.send(JSON.stringify({ type: "conversation.item.create", item }));
  ws.send(JSON.stringify({ type: "response.create" }));
};
ws.onerror = () => fail("websocket error (handshake refused?)");
ws.onmessage = (message) => {
  const event = JSON.parse(message.data);
  report.first ??= event.type;
  if (event.type === "error") fail(JSON.stringify(event));
  const done = beta ? "response.audio_transcript.done" : "response.output_audio_transcript.done";
  if (event.type === done) report.transcript = event.transcript;
  if (event.type === "response.done") {
    clearTimeout(timer);
    ws.close();
    console.log(JSON.stringify(report));
  }
};
