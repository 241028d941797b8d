// A browser-style Realtime client (the WebSocket API of browsers, here Node's): it authenticates with
// subprotocols, as the JavaScript reference client does in a page, does one text turn per argument
// and prints every server event as one JSON line. Usage: node --experimental-websocket
// browser_client.mjs URL TOKEN TEXT...
const [url, token, ...texts] = process.argv.slice(2);
const protocols = ["realtime", `openai-insecure-api-key.${token}`, "openai-beta.realtime-v1"];
const ws = new WebSocket(url, protocols);
let turn = 0;
const say = (text) => {
  ws.send(JSON.stringify({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
  }));
  ws.send(JSON.stringify({ type: "response.create" }));
};
ws.addEventListener("open", () => {
  console.log(JSON.stringify({ type: "client.open", protocol: ws.protocol }));
  say(texts[turn]);
});
ws.addEventListener("message", (message) => {
  const event = JSON.parse(message.data);
  console.log(JSON.stringify(event));
  if (event.type === "response.done") {
    turn += 1;
    if (turn < texts.length) say(texts[turn]);
    else ws.close(1000, "done");
  }
});
ws.addEventListener("close", (event) => {
  console.log(JSON.stringify({ type: "client.close", code: event.code, reason: event.reason }));
});
ws.addEventListener("error", () => {
  console.log(JSON.stringify({ type: "client.error" }));
});
