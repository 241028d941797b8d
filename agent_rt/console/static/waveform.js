// Live waveform of an AnalyserNode on a canvas (a flat line when there is no source).

export class Waveform {
  constructor(canvas) {
    this.canvas = canvas;
    this.source = null;
    this.data = new Float32Array(2048);
    this.frame = null;
  }

  /** Draw this analyser (or nothing with null) until `stop`. */
  attach(analyser) {
    this.source = analyser;
    if (analyser && this.data.length !== analyser.fftSize) this.data = new Float32Array(analyser.fftSize);
    if (this.frame === null) this.frame = requestAnimationFrame(() => this.draw());
  }

  stop() {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    this.source = null;
    this.draw(false);
  }

  draw(again = true) {
    const { canvas } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
    const ctx = canvas.getContext("2d");
    const style = getComputedStyle(canvas);
    ctx.clearRect(0, 0, width, height);
    ctx.lineWidth = Math.max(1, ratio * 1.5);
    ctx.strokeStyle = style.getPropertyValue("--wave").trim() || style.color;
    ctx.beginPath();
    if (this.source) this.source.getFloatTimeDomainData(this.data);
    else this.data.fill(0);
    const step = this.data.length / width;
    for (let x = 0; x < width; x += 1) {
      const v = this.data[Math.floor(x * step)] || 0;
      const y = height / 2 - v * (height / 2) * 0.95;
      if (x === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.stroke();
    if (again && this.frame !== null) this.frame = requestAnimationFrame(() => this.draw());
  }
}
