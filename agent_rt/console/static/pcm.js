// Pure audio helpers shared by the page and the AudioWorklets: no DOM, no Web Audio.
// The Realtime API speaks 24 kHz mono PCM16 (little endian), base64 in JSON events.

export const API_RATE = 24000;

/**
 * Streaming resampler (any rate -> any rate), linear interpolation after a box low-pass when
 * downsampling. State is kept between calls, so feeding a signal in chunks gives the same
 * samples as feeding it at once.
 */
export class Resampler {
  constructor(inputRate, outputRate = API_RATE) {
    if (!(inputRate > 0) || !(outputRate > 0)) throw new RangeError("sample rates must be positive");
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    this.step = inputRate / outputRate; // input samples per output sample
    this.taps = this.step > 1 ? Math.ceil(this.step) : 1; // box filter width (anti-aliasing)
    this.history = new Float32Array(this.taps); // last filtered inputs, for the filter window
    this.filled = 0;
    this.previous = 0; // last filtered sample of the previous chunk
    this.havePrevious = false;
    this.position = 0; // next output position, in input samples relative to `previous`
  }

  /** Resample one chunk of float samples in [-1, 1]; returns a new Float32Array. */
  process(input) {
    const filtered = this.taps > 1 ? this._lowpass(input) : input;
    const out = [];
    // Index -1 is the previous chunk's last sample; 0..n-1 are this chunk's.
    let pos = this.havePrevious ? this.position : 0;
    const last = filtered.length - 1;
    while (pos <= last) {
      const base = Math.floor(pos);
      const frac = pos - base;
      const a = base < 0 ? this.previous : filtered[base];
      // pos <= last, so base + 1 <= last whenever frac > 0.
      out.push(frac === 0 ? a : a + (filtered[base + 1] - a) * frac);
      pos += this.step;
    }
    if (filtered.length) {
      // The chunk's last sample becomes index -1 of the next chunk.
      this.previous = filtered[last];
      this.position = pos - filtered.length;
      this.havePrevious = true;
    }
    return Float32Array.from(out);
  }

  _lowpass(input) {
    const out = new Float32Array(input.length);
    const width = this.taps;
    for (let i = 0; i < input.length; i += 1) {
      this.history[this.filled % width] = input[i];
      this.filled += 1;
      const count = Math.min(this.filled, width);
      let sum = 0;
      for (let k = 0; k < count; k += 1) sum += this.history[k];
      out[i] = sum / count;
    }
    return out;
  }
}

/** Float samples in [-1, 1] to PCM16 (clipped, rounded). */
export function floatToPcm16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out[i] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
  }
  return out;
}

/** PCM16 to float samples in [-1, 1). */
export function pcm16ToFloat(samples) {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) out[i] = samples[i] / 32768;
  return out;
}

/** Base64 of the little-endian bytes of an Int16Array. */
export function pcm16ToBase64(samples) {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i += 1) view.setInt16(i * 2, samples[i], true);
  let binary = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** Int16Array from base64 little-endian PCM16 (an odd trailing byte is dropped). */
export function base64ToPcm16(text) {
  const binary = atob(text);
  const count = binary.length >> 1;
  const out = new Int16Array(count);
  for (let i = 0; i < count; i += 1) {
    const lo = binary.charCodeAt(2 * i);
    const hi = binary.charCodeAt(2 * i + 1);
    out[i] = ((hi << 8) | lo) << 16 >> 16;
  }
  return out;
}

/** Cuts a stream of PCM16 samples into frames of exactly `frameSize` samples. */
export class FrameChunker {
  constructor(frameSize) {
    this.frameSize = frameSize;
    this.pending = new Int16Array(frameSize);
    this.used = 0;
  }

  /** Add samples; returns the complete frames (each a new Int16Array). */
  push(samples) {
    const frames = [];
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(this.frameSize - this.used, samples.length - offset);
      this.pending.set(samples.subarray(offset, offset + take), this.used);
      this.used += take;
      offset += take;
      if (this.used === this.frameSize) {
        frames.push(this.pending);
        this.pending = new Int16Array(this.frameSize);
        this.used = 0;
      }
    }
    return frames;
  }
}

/** Milliseconds of audio in `samples` at `rate`, rounded down (what was fully played). */
export function samplesToMs(samples, rate = API_RATE) {
  return Math.floor((samples * 1000) / rate);
}
