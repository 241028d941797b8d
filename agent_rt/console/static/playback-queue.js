// The assistant's audio queue, pure: chunks go in tagged with their item, `render` pulls samples
// out exactly as the audio device consumes them and counts, per item, the samples that were
// actually played. Runs inside the playback AudioWorklet and in unit tests.

export class PlaybackQueue {
  constructor() {
    this.chunks = []; // {itemId, contentIndex, samples: Float32Array}
    this.offset = 0; // samples of chunks[0] already played
    this.played = new Map(); // itemId -> samples played
    this.current = null; // {itemId, contentIndex} of the last sample played
  }

  /** Queue float samples of one assistant item's audio. */
  push(itemId, contentIndex, samples) {
    if (samples.length) this.chunks.push({ itemId, contentIndex, samples });
  }

  /** Samples waiting to be played. */
  get queued() {
    let total = -this.offset;
    for (const chunk of this.chunks) total += chunk.samples.length;
    return Math.max(0, total);
  }

  /** Samples of `itemId` played so far. */
  playedFor(itemId) {
    return this.played.get(itemId) ?? 0;
  }

  /** Fill `out` (zeros once the queue is empty); returns how many queued samples were played. */
  render(out) {
    let written = 0;
    while (written < out.length && this.chunks.length) {
      const chunk = this.chunks[0];
      const take = Math.min(out.length - written, chunk.samples.length - this.offset);
      out.set(chunk.samples.subarray(this.offset, this.offset + take), written);
      written += take;
      this.offset += take;
      this.played.set(chunk.itemId, this.playedFor(chunk.itemId) + take);
      this.current = { itemId: chunk.itemId, contentIndex: chunk.contentIndex };
      if (this.offset === chunk.samples.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    out.fill(0, written);
    return written;
  }

  /**
   * Drop everything queued. Returns what was interrupted: the item that was playing (or next to
   * play), how many of its samples were played, and how many queued samples were dropped.
   */
  stop() {
    const head = this.chunks[0] ?? null;
    const target = head ? { itemId: head.itemId, contentIndex: head.contentIndex } : this.current;
    const dropped = this.queued;
    this.chunks = [];
    this.offset = 0;
    if (!target) return null;
    return { ...target, played: this.playedFor(target.itemId), dropped };
  }
}
