// P1 side by side: the same audio reply through openai-realtime-api's RealtimeConversation (beta events,
// which is what the reference client speaks). Prints {"seconds": ...} spent in processEvent.
import { RealtimeConversation } from 'openai-realtime-api';

const deltas = Number(process.argv[2]);
const payload = process.argv[3];
const conversation = new RealtimeConversation();
const item = { id: 'item_1', object: 'realtime.item', type: 'message', role: 'assistant', status: 'in_progress', content: [] };
const events = [
  { event_id: 'e0', type: 'response.created', response: { id: 'resp_1', status: 'in_progress', output: [] } },
  { event_id: 'e1', type: 'response.output_item.added', response_id: 'resp_1', output_index: 0, item },
  { event_id: 'e2', type: 'conversation.item.created', previous_item_id: null, item },
  { event_id: 'e3', type: 'response.content_part.added', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0, part: { type: 'audio', transcript: '' } },
];
for (let i = 0; i < deltas; i++) {
  events.push({ event_id: 'd' + i, type: 'response.audio.delta', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0, delta: payload });
}
events.push({ event_id: 'e4', type: 'response.output_item.done', response_id: 'resp_1', output_index: 0, item: { ...item, status: 'completed' } });
const start = process.hrtime.bigint();
for (const event of events) conversation.processEvent(event);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const got = conversation.getItem('item_1').formatted.audio.length;
if (got !== deltas * 2400) throw new Error(`audio length ${got}`);
console.log(JSON.stringify({ seconds }));
