// Error bounds around a reference run (reference.ts): for every tensor element, how far another
// implementation of the same graph may be from the reference value.
//
// 1. fp32ErrorBounds: an implementation that computes in fp32 (the chip, a GPU kernel, tfjs).
//    It is assumed to (a) store the same weights (storeWeights), (b) store each tensor in its
//    graph dtype, computing the quantize ops itself from its own fp32 values, (c) round every
//    +, -, x, / and sqrt to nearest in fp32, (d) evaluate exp, sigmoid, tanh, erf and rsqrt
//    within 2 ulp, (e) sum n terms in any order, (f) take the RoPE tables as the float64
//    cos/sin rounded to fp32, (g) accumulate int8 x int8 exactly in int32.
//    With u = 2^-24 and gamma_n = n u / (1 - n u), an op whose inputs are off by E(.) has its
//    output off by at most:
//      linear, float  E(y) = sum_k E(a)|w| + gamma_{K+2} (sum_k (|a|+E(a))|w| + |b|)
//      linear, int8   E(y) = sum_k E(a)|w| + 4u (|y| + |b| + sum_k E(a)|w|)   (a, w dequantised)
//      attention      the same as a float linear, over the attended keys (K = D, or the keys)
//      quantize float E(q) = max |R(x +- E(x)) - q|, R the rounding (a flip costs one step)
//      quantize int8  the codes an fp32 quantiser can reach from x +- E(x) with its scale from
//                     max|x +- E(x)| / 127 (+-2u), times those scales: the widest distance
//                     from the reference's code x scale
//      rmsnorm        E(y) = |g| r (E(x) + (|x|+E(x)) rho) (1+3u) + 3u|y|, rho = 1/2 E(a)/a
//                     (first order) + 4u, a = mean(x^2) + eps, E(a) from E(x) and gamma_{H+1}
//      rope           E(y_i) = E(x_i)|c| + E(x_j)|s| + 4u ((|x_i|+E)|c| + (|x_j|+E)|s|)
//      softmax        E(p_j) = p_j expm1(2 (E(z_j) + max E(z)) + u (4 (m - z_j) + 2|m|
//                     + 2 range + 4 ln n + 40) + 2 gamma_n), z = s / sqrt(D), m = max z
//      add            E = E(a) + E(b) + u (|a| + |b| + E(a) + E(b))
//      mul            E = E(a)|b| + (|a|+E(a)) E(b) + u (|a|+E(a)) (|b|+E(b))
//      activation     E = L E(x) + 10u |y| (silu, L = 1.1), + 16u (|y| + |x|) (gelu, L = 1.13),
//                     E(x) (relu)
//    each multiplied by 1.01 for the second-order terms left out.
//    - local (options.local): every op's inputs exact (E = 0): the op's own rounding only. This
//      is the tight check (a few parts per million of the output on the tiny model); with
//      checkOpByOp a compiler evaluates each op on the chip's own inputs and compares.
//    - propagated (default): from E(x) = |fp32(x) - x| through the whole layer. Rigorous but
//      worst case: it grows by about the L1 norm of each matmul's rows, so on the tiny model
//      it is ~3% of |y| in fp32 while real fp32 errors are ~1e-7 of |y|; with int8 it is vacuous
//      once a flip is possible everywhere. Use it as a safety net, the local bound as the test.
//
// 2. quantizationBounds: per op, the float path (--dtype fp32) of the same op on this run's own
//    unquantised inputs, and an a-priori bound on how far the quantised op may be from it
//    (half an int8 step s/2, or half an ulp of fp16/bf16, per operand element and per weight).
//    Rigorous and tight (the tests see 2-50% of it used). End to end, the quantised layer's
//    distance from the float path is measured in the tests, not bounded (see docs/models.md).
import { SfError } from '../util/errors.js';
import { firstKey, type GraphOp } from './graph.js';
import { roundFloat, SUBNORMAL_STEP, UNIT_ROUNDOFF, type FloatDtype } from './quant.js';
import { evaluateOp, tensorValues, type ReferenceResult, type ReferenceRun } from './reference.js';
import { weightValues } from './weights.js';

export type Bounds = Record<string, Float64Array>;

const U32 = 2 ** -24;
const SLACK = 1.01;

/** How the other implementation differs (fp32ErrorBounds' model; weights and cache could differ too). */
interface Model {
  /** Unit roundoff of the other implementation's arithmetic (0: exact). */
  u: number;
  /** |other - reference| of a stored weight's (dequantised) values, or null for none. */
  weightError(name: string): Float64Array | null;
  /** |other - reference| of the past cache entries (k or v), [B, kv, P, D]. */
  pastError(which: 'k' | 'v'): Float64Array | null;
  /** Error bound after a rounding of x (error ex) to `to` whose reference result is q. */
  round(x: number, ex: number, q: number, to: FloatDtype): number;
  /** Error bound of an int8 quantisation of row x (errors ex), reference dequantised d. */
  int8Row(x: Float64Array, ex: Float64Array, d: Float64Array, off: number, n: number, out: Float64Array): void;
  /** Error bound of the layer input x. */
  inputError(x: number): number;
}

function gamma(n: number, u: number): number {
  const nu = n * u;
  return nu >= 0.5 ? Infinity : nu / (1 - nu);
}

function propagate(result: ReferenceResult, model: Model, local: boolean): Bounds {
  const { graph } = result;
  const { config, shape } = graph;
  const { batch: B, tokens: T, past: P, seq: S } = shape;
  const nkv = config.numKeyValueHeads;
  const D = config.headDim;
  const half = D / 2;
  const u = model.u;
  const uf = 4 * u;
  const E: Bounds = {};
  const vals = new Map<string, Float64Array>();
  const val = (n: string) => {
    let v = vals.get(n);
    if (!v) {
      v = tensorValues(result, n);
      vals.set(n, v);
    }
    return v;
  };
  const err = (n: string) => {
    const e = E[n];
    // local bounds take every input as given (a segment's inputs included)
    if (!e && local) return new Float64Array(val(n).length);
    if (!e) throw new Error(`internal: no bound for ${n}`);
    return local ? new Float64Array(e.length) : e;
  };
  const wval = (n: string) => weightValues(graph, result.weights, n);
  const zeros = (n: number) => new Float64Array(n);
  /** The values and error bound of an op's first input. */
  const input = (op: GraphOp) => {
    const n = op.inputs[0]!.name;
    return { v: val(n), e: err(n) };
  };

  const x = val('x');
  E.x = local ? zeros(x.length) : zeros(x.length).map((_, i) => model.inputError(x[i]!));
  const kc = val('k_cache');
  const vc = val('v_cache');
  const Ek = zeros(kc.length);
  const Ev = zeros(vc.length);
  for (const [which, dst] of [['k', Ek], ['v', Ev]] as const) {
    const pe = local ? null : model.pastError(which);
    if (!pe) continue;
    for (let b = 0; b < B; b++)
      for (let g = 0; g < nkv; g++)
        for (let j = 0; j < P; j++)
          for (let d = 0; d < D; d++) dst[((b * nkv + g) * S + j) * D + d] = pe[((b * nkv + g) * P + j) * D + d]!;
  }
  E.k_cache = Ek;
  E.v_cache = Ev;

  for (const op of graph.ops) {
    const a = op.attrs;
    const outName = op.outputs[0]!.name;
    switch (a.kind) {
      case 'rmsnorm': {
        const { v: xv, e: ex } = input(op);
        const y = val(outName);
        const g = wval(a.weight);
        const eg = model.weightError(a.weight);
        const out = zeros(y.length);
        const H = a.dim;
        for (let r = 0; r < a.rows; r++) {
          let ss = 0;
          let ess = 0;
          let abs2 = 0;
          for (let i = 0; i < H; i++) {
            const xi = xv[r * H + i]!;
            const ei = ex[r * H + i]!;
            ss += xi * xi;
            ess += 2 * Math.abs(xi) * ei + ei * ei;
            abs2 += (Math.abs(xi) + ei) ** 2;
          }
          ess += gamma(H + 1, u) * abs2;
          const av = ss / H + a.eps;
          const ea = ess / H + 2 * u * (av + ess / H);
          const ra = ea / av;
          const rho = ra >= 0.5 ? Infinity : ra / (2 * (1 - ra)) + uf;
          const rinv = 1 / Math.sqrt(av);
          for (let i = 0; i < H; i++) {
            const k = r * H + i;
            const ax = Math.abs(xv[k]!) + ex[k]!;
            let core = Math.abs(g[i]!) * rinv * (ex[k]! + ax * rho);
            if (eg) core += eg[i]! * rinv * (1 + rho) * ax;
            out[k] = core * (1 + 3 * u) + 3 * u * Math.abs(y[k]!);
          }
        }
        E[outName] = out;
        break;
      }
      case 'quantize': {
        const { v: xv, e: ex } = input(op);
        const q = val(outName);
        const out = zeros(q.length);
        if (a.to === 'int8') {
          for (let r = 0; r < a.rows; r++) model.int8Row(xv, ex, q, r * a.cols, a.cols, out);
        } else {
          for (let i = 0; i < q.length; i++) {
            if (q[i] === 0 && xv[i] === 0 && ex[i] === 0) continue;
            out[i] = model.round(xv[i]!, ex[i]!, q[i]!, a.to as FloatDtype);
          }
        }
        // Masked probs (never formed) stay exact.
        E[outName] = out;
        break;
      }
      case 'linear': {
        const { v: av, e: ea } = input(op);
        const w = wval(a.weight);
        const ew = model.weightError(a.weight);
        const bias = a.bias ? wval(a.bias) : null;
        const eb = a.bias ? model.weightError(a.bias) : null;
        const y = val(outName);
        const K = a.inFeatures;
        const N = a.outFeatures;
        const out = zeros(y.length);
        const g = gamma(K + 2, u);
        const int8 = a.weightScale !== null;
        for (let m = 0; m < a.rows; m++) {
          for (let n = 0; n < N; n++) {
            let base = 0;
            let mag = 0;
            for (let k = 0; k < K; k++) {
              const aw = Math.abs(w[n * K + k]!);
              const e = ea[m * K + k]!;
              const ax = Math.abs(av[m * K + k]!) + e;
              const ewk = ew ? ew[n * K + k]! : 0;
              base += e * aw + ax * ewk;
              mag += ax * (aw + ewk);
            }
            const b = bias ? Math.abs(bias[n]!) : 0;
            const ebn = eb ? eb[n]! : 0;
            out[m * N + n] = int8
              ? base + ebn + 4 * u * (Math.abs(y[m * N + n]!) + b + base)
              : base + ebn + g * (mag + b + ebn);
          }
        }
        E[outName] = out;
        break;
      }
      case 'rope': {
        const { v: xv, e: ex } = input(op);
        const cos = val('rope_cos');
        const sin = val('rope_sin');
        const W = a.heads * D;
        const out = zeros(xv.length);
        for (let m = 0; m < a.rows; m++) {
          const t = m % a.tokens;
          for (let h = 0; h < a.heads; h++) {
            const o = m * W + h * D;
            for (let i = 0; i < half; i++) {
              const c = Math.abs(cos[t * half + i]!);
              const s = Math.abs(sin[t * half + i]!);
              const e1 = ex[o + i]!;
              const e2 = ex[o + i + half]!;
              const a1 = Math.abs(xv[o + i]!) + e1;
              const a2 = Math.abs(xv[o + i + half]!) + e2;
              out[o + i] = e1 * c + e2 * s + 4 * u * (a1 * c + a2 * s);
              out[o + i + half] = e2 * c + e1 * s + 4 * u * (a2 * c + a1 * s);
            }
          }
        }
        E[outName] = out;
        break;
      }
      case 'kv_append': {
        const kv = val('k_rope');
        const ekv = err('k_rope');
        const vv = val('v');
        const evv = err('v');
        const KV = nkv * D;
        for (let b = 0; b < B; b++)
          for (let t = 0; t < T; t++)
            for (let g = 0; g < nkv; g++)
              for (let d = 0; d < D; d++) {
                const src = (b * T + t) * KV + g * D + d;
                const dst = ((b * nkv + g) * S + P + t) * D + d;
                Ek[dst] = model.round(kv[src]!, ekv[src]!, kc[dst]!, a.cacheDtype);
                Ev[dst] = model.round(vv[src]!, evv[src]!, vc[dst]!, a.cacheDtype);
              }
        break;
      }
      case 'attn_scores':
      case 'attn_values': {
        const scores = a.kind === 'attn_scores';
        const { v: av, e: ea } = input(op);
        const y = val(outName);
        const out = zeros(y.length);
        const Q = a.heads * D;
        const Ekc = local ? zeros(Ek.length) : Ek;
        const Evc = local ? zeros(Ev.length) : Ev;
        for (let b = 0; b < B; b++)
          for (let h = 0; h < a.heads; h++) {
            const g = Math.floor(h / a.group);
            for (let t = 0; t < T; t++) {
              const p = P + t;
              const lo = firstKey(p, a.window);
              const row = (b * T + t) * Q + h * D;
              const prow = ((b * a.heads + h) * T + t) * S;
              if (scores) {
                const gm = gamma(D + 1, u);
                for (let j = lo; j <= p; j++) {
                  const ko = ((b * nkv + g) * S + j) * D;
                  let base = 0;
                  let mag = 0;
                  for (let d = 0; d < D; d++) {
                    const eq = ea[row + d]!;
                    const aq = Math.abs(av[row + d]!) + eq;
                    const ak = Math.abs(kc[ko + d]!);
                    const ek = Ekc[ko + d]!;
                    base += eq * ak + aq * ek;
                    mag += aq * (ak + ek);
                  }
                  out[prow + j] = base + gm * mag;
                }
              } else {
                const gm = gamma(p - lo + 2, u);
                for (let d = 0; d < D; d++) {
                  let base = 0;
                  let mag = 0;
                  for (let j = lo; j <= p; j++) {
                    const vo = ((b * nkv + g) * S + j) * D + d;
                    const ep = ea[prow + j]!;
                    const ap = Math.abs(av[prow + j]!) + ep;
                    const avv = Math.abs(vc[vo]!);
                    const evo = Evc[vo]!;
                    base += ep * avv + ap * evo;
                    mag += ap * (avv + evo);
                  }
                  out[row + d] = base + gm * mag;
                }
              }
            }
          }
        E[outName] = out;
        break;
      }
      case 'softmax': {
        const s = val('scores');
        const es = err('scores');
        const p = val('probs');
        const out = zeros(p.length);
        for (let r = 0; r < B * a.heads * T; r++) {
          const t = r % T;
          const lo = firstKey(P + t, a.window);
          const hi = P + t;
          const n = hi - lo + 1;
          let m = -Infinity;
          let zmin = Infinity;
          let emax = 0;
          const ez = new Float64Array(n);
          for (let j = lo; j <= hi; j++) {
            const z = s[r * S + j]! * a.scale;
            m = Math.max(m, z);
            zmin = Math.min(zmin, z);
            ez[j - lo] = a.scale * es[r * S + j]! + 2 * u * Math.abs(z);
            emax = Math.max(emax, ez[j - lo]!);
          }
          const range = m - zmin;
          for (let j = lo; j <= hi; j++) {
            const z = s[r * S + j]! * a.scale;
            const rho =
              2 * (ez[j - lo]! + emax) + u * (4 * (m - z) + 2 * Math.abs(m) + 2 * range + 4 * Math.log(n) + 40) + 2 * gamma(n, u);
            out[r * S + j] = p[r * S + j]! * Math.expm1(rho) + (u > 0 ? 2 ** -149 : 0);
          }
        }
        E[outName] = out;
        break;
      }
      case 'add':
      case 'mul': {
        const an = op.inputs[0]!.name;
        const bn = op.inputs[1]!.name;
        const x1 = val(an);
        const x2 = val(bn);
        const e1 = err(an);
        const e2 = err(bn);
        const out = zeros(x1.length);
        for (let i = 0; i < out.length; i++) {
          const a1 = Math.abs(x1[i]!);
          const a2 = Math.abs(x2[i]!);
          out[i] =
            a.kind === 'add'
              ? e1[i]! + e2[i]! + u * (a1 + a2 + e1[i]! + e2[i]!)
              : e1[i]! * a2 + (a1 + e1[i]!) * e2[i]! + u * (a1 + e1[i]!) * (a2 + e2[i]!);
        }
        E[outName] = out;
        break;
      }
      case 'activation': {
        const { v: xv, e: ex } = input(op);
        const y = val(outName);
        const out = zeros(y.length);
        for (let i = 0; i < out.length; i++) {
          const ay = Math.abs(y[i]!);
          switch (a.fn) {
            case 'relu':
              out[i] = ex[i]!;
              break;
            case 'silu':
            case 'swish':
              out[i] = 1.1 * ex[i]! + 10 * u * ay;
              break;
            default:
              out[i] = 1.13 * ex[i]! + 16 * u * (ay + Math.abs(xv[i]!));
          }
        }
        E[outName] = out;
        break;
      }
    }
  }
  for (const k of Object.keys(E)) {
    const e = E[k]!;
    for (let i = 0; i < e.length; i++) e[i] = e[i]! * SLACK;
  }
  return E;
}

/**
 * How far a rounding to a float dtype of x (known within ex) may land from q, the value it should
 * give. An exact input rounds to one value: R(x) itself, so the bound is 0 (checkOpByOp passes
 * the implementation's own output as q, which must then be R(x) bit for bit).
 */
function roundRange(x: number, ex: number, q: number, R: (v: number) => number): number {
  if (ex === 0) return 0;
  const e = ex * (1 + 2 ** -40);
  return Math.max(Math.abs(R(x + e) - q), Math.abs(R(x - e) - q));
}

/**
 * Bounds on |fp32 implementation - reference| for every tensor (see the header). With
 * `local: true`, each op's bound assumes its inputs are exactly the reference's (the op's own
 * rounding only): the tight per-op check a compiler uses with evaluateOp. Otherwise the bounds
 * propagate from the layer input to the output (rigorous, but worst case).
 */
export function fp32ErrorBounds(result: ReferenceResult, options: { local?: boolean } = {}): Bounds {
  const u = U32;
  return propagate(result, {
    u,
    weightError: () => null,
    pastError: () => null,
    inputError: (x) => Math.abs(Math.fround(x) - x),
    round: (x, ex, q, to) => roundRange(x, ex, q, (v) => roundFloat(v, to)),
    int8Row: (xv, ex, d, off, n, out) => {
      let mlo = 0;
      let mhi = 0;
      for (let i = 0; i < n; i++) {
        const a = Math.abs(xv[off + i]!);
        mlo = Math.max(mlo, a - ex[off + i]!);
        mhi = Math.max(mhi, a + ex[off + i]!);
      }
      const slo = (mlo / 127) * (1 - 2 * u);
      const shi = (mhi / 127) * (1 + 2 * u);
      for (let i = 0; i < n; i++) {
        const k = off + i;
        const xl = xv[k]! - ex[k]!;
        const xh = xv[k]! + ex[k]!;
        if (!(slo > 0)) {
          out[k] = ex[k]! + Math.abs(xv[k]! - d[k]!) + 0.5 * shi * (1 + 4 * u);
          continue;
        }
        let rlo = Math.min(xl / slo, xl / shi);
        let rhi = Math.max(xh / slo, xh / shi);
        rlo -= 2 * u * Math.abs(rlo) + 1e-12;
        rhi += 2 * u * Math.abs(rhi) + 1e-12;
        const clo = Math.min(127, Math.max(-128, Math.ceil(rlo - 0.5)));
        const chi = Math.min(127, Math.max(-128, Math.floor(rhi + 0.5)));
        const c = [clo * slo, clo * shi, chi * slo, chi * shi];
        out[k] = Math.max(Math.max(...c) - d[k]!, d[k]! - Math.min(...c));
      }
    },
  }, options.local ?? false);
}

/** A-priori bound of one float rounding of v to `to`: half an ulp (or half a subnormal step). */
function roundingBound(v: number, to: FloatDtype): number {
  return UNIT_ROUNDOFF[to] * Math.abs(v) + SUBNORMAL_STEP[to] / 2;
}

export interface QuantizationCheck {
  /** The op's output tensor. */
  output: string;
  /** The op computed without quantisation on this run's own (unquantised) inputs, fp32 weights. */
  float: Float64Array;
  /** A-priori bound on |this run's output - float|, elementwise (dequantised values). */
  bound: Float64Array;
}

/**
 * Per-op quantisation bounds: for every op where this run's dtype rounds something (quantize,
 * linear, kv_append, attn_scores, attn_values, rmsnorm's stored gain), the value the float path
 * (--dtype fp32) would compute from the same op inputs before quantisation, and an a-priori
 * bound on the difference that depends only on the quantisation rules, not on the rounded
 * values: an int8 code is within s/2 of x (s its row scale), a float rounding within
 * half an ulp (unit roundoff |x|, or half the subnormal step); weights likewise per output
 * channel; the float path itself holds weights and cache in fp32. For a linear with input a,
 * weight w (float path a, fp32(w)):
 *   |y_q - y_f| <= sum_k e(a_k)|fp32(w_k)| + (|a_k| + e(a_k)) (e(w_k) + u32|w_k|) + e(b)
 * and the attention matmuls the same with q, K and probs, V.
 */
export function quantizationBounds(run: ReferenceRun): Record<string, QuantizationCheck> {
  const { graph } = run;
  const { config, shape } = graph;
  const { batch: B, tokens: T, past: P, seq: S } = shape;
  const prec = shape.precision;
  const nkv = config.numKeyValueHeads;
  const D = config.headDim;
  const out: Record<string, QuantizationCheck> = {};
  const v = (n: string) => run.values[n]!;
  const producer = new Map<string, string>();
  for (const op of graph.ops) if (op.attrs.kind === 'quantize') producer.set(op.outputs[0]!.name, op.inputs[0]!.name);
  /** Pre-quantisation values of a matmul operand and the a-priori bound of its quantisation. */
  const operand = (name: string): { a: Float64Array; e: Float64Array } => {
    const src = producer.get(name);
    if (!src) return { a: v(name), e: new Float64Array(v(name).length) };
    const a = v(src);
    const spec = graph.tensors[name]!;
    const e = new Float64Array(a.length);
    if (spec.dtype === 'int8') {
      const scales = v(`${name}.scale`);
      const cols = spec.shape[spec.shape.length - 1]!;
      for (let i = 0; i < a.length; i++) e[i] = (scales[Math.floor(i / cols)]! / 2) * (1 + 2 ** -20);
    } else {
      for (let i = 0; i < a.length; i++) e[i] = roundingBound(a[i]!, spec.dtype as FloatDtype);
    }
    return { a, e };
  };
  /** Raw weight in fp32 (the float path's) and |stored - fp32(raw)| a-priori. */
  const weight = (name: string): { w32: Float64Array; e: Float64Array } => {
    const raw = run.raw[name as keyof typeof run.raw];
    if (!raw) throw new SfError(`no raw weight "${name}"`);
    const spec = graph.weights[name]!;
    const w32 = raw.map(Math.fround);
    const e = new Float64Array(raw.length);
    if (spec.dtype === 'int8') {
      const scales = run.weights[name.replace(/\.weight$/, '.scale')]!;
      const cols = spec.shape[1]!;
      for (let i = 0; i < raw.length; i++) e[i] = (scales[Math.floor(i / cols)]! / 2) * (1 + 2 ** -20) + U32 * Math.abs(raw[i]!);
    } else {
      for (let i = 0; i < raw.length; i++) e[i] = roundingBound(raw[i]!, spec.dtype as FloatDtype) + U32 * Math.abs(raw[i]!);
    }
    return { w32, e };
  };
  /** The cache as the float path holds it (fp32) and |this cache - that| a-priori. */
  const cache = (which: 'k' | 'v') => {
    const past = which === 'k' ? run.inputs.kPast : run.inputs.vPast;
    const fresh = v(which === 'k' ? 'k_rope' : 'v');
    const c32 = new Float64Array(B * nkv * S * D);
    const e = new Float64Array(c32.length);
    const KV = nkv * D;
    for (let b = 0; b < B; b++)
      for (let g = 0; g < nkv; g++)
        for (let j = 0; j < S; j++)
          for (let d = 0; d < D; d++) {
            const x = j < P ? past[((b * nkv + g) * P + j) * D + d]! : fresh[(b * T + j - P) * KV + g * D + d]!;
            const i = ((b * nkv + g) * S + j) * D + d;
            c32[i] = Math.fround(x);
            e[i] = roundingBound(x, prec.attention) + U32 * Math.abs(x);
          }
    return { c32, e };
  };

  for (const op of graph.ops) {
    const a = op.attrs;
    const outName = op.outputs[0]!.name;
    switch (a.kind) {
      case 'quantize': {
        const { a: x, e } = operand(outName);
        out[op.name] = { output: outName, float: Float64Array.from(x), bound: e };
        break;
      }
      case 'rmsnorm': {
        const x = v(op.inputs[0]!.name);
        const { w32, e: eg } = weight(a.weight);
        const f = new Float64Array(x.length);
        const bnd = new Float64Array(x.length);
        for (let r = 0; r < a.rows; r++) {
          let ss = 0;
          for (let i = 0; i < a.dim; i++) ss += x[r * a.dim + i]! ** 2;
          const inv = 1 / Math.sqrt(ss / a.dim + a.eps);
          for (let i = 0; i < a.dim; i++) {
            const xr = x[r * a.dim + i]! * inv;
            f[r * a.dim + i] = xr * w32[i]!;
            bnd[r * a.dim + i] = Math.abs(xr) * eg[i]! * (1 + 2 ** -20);
          }
        }
        out[op.name] = { output: outName, float: f, bound: bnd };
        break;
      }
      case 'linear': {
        const { a: av, e: ea } = operand(op.inputs[0]!.name);
        const { w32, e: ew } = weight(a.weight);
        const bias = a.bias ? weight(a.bias) : null;
        const K = a.inFeatures;
        const N = a.outFeatures;
        const f = new Float64Array(a.rows * N);
        const bnd = new Float64Array(a.rows * N);
        for (let m = 0; m < a.rows; m++)
          for (let n = 0; n < N; n++) {
            let s = 0;
            let e = 0;
            for (let k = 0; k < K; k++) {
              const x = av[m * K + k]!;
              const w = w32[n * K + k]!;
              s += x * w;
              e += ea[m * K + k]! * Math.abs(w) + (Math.abs(x) + ea[m * K + k]!) * ew[n * K + k]!;
            }
            f[m * N + n] = s + (bias ? bias.w32[n]! : 0);
            bnd[m * N + n] = (e + (bias ? bias.e[n]! : 0)) * (1 + 2 ** -20);
          }
        out[op.name] = { output: outName, float: f, bound: bnd };
        break;
      }
      case 'kv_append': {
        for (const which of ['k', 'v'] as const) {
          const { c32, e } = cache(which);
          // Only the new positions are this op's; the past ones come in rounded.
          const f = Float64Array.from(v(`${which}_cache`));
          const bnd = new Float64Array(f.length);
          for (let bg = 0; bg < B * nkv; bg++)
            for (let i = P * D; i < S * D; i++) {
              f[bg * S * D + i] = c32[bg * S * D + i]!;
              bnd[bg * S * D + i] = e[bg * S * D + i]!;
            }
          out[`${op.name}.${which}`] = { output: `${which}_cache`, float: f, bound: bnd };
        }
        break;
      }
      case 'attn_scores':
      case 'attn_values': {
        const scores = a.kind === 'attn_scores';
        const { a: av, e: ea } = operand(op.inputs[0]!.name);
        const { c32, e: ec } = cache(scores ? 'k' : 'v');
        const y = v(outName);
        const f = new Float64Array(y.length).fill(scores ? -Infinity : 0);
        const bnd = new Float64Array(y.length);
        const Q = a.heads * D;
        for (let b = 0; b < B; b++)
          for (let h = 0; h < a.heads; h++) {
            const g = Math.floor(h / a.group);
            for (let t = 0; t < T; t++) {
              const p = P + t;
              const lo = firstKey(p, a.window);
              const row = (b * T + t) * Q + h * D;
              const prow = ((b * a.heads + h) * T + t) * S;
              if (scores) {
                for (let j = lo; j <= p; j++) {
                  const ko = ((b * nkv + g) * S + j) * D;
                  let s = 0;
                  let e = 0;
                  for (let d = 0; d < D; d++) {
                    const q = av[row + d]!;
                    s += q * c32[ko + d]!;
                    e += ea[row + d]! * Math.abs(c32[ko + d]!) + (Math.abs(q) + ea[row + d]!) * ec[ko + d]!;
                  }
                  f[prow + j] = s;
                  bnd[prow + j] = e * (1 + 2 ** -20);
                }
              } else {
                for (let d = 0; d < D; d++) {
                  let s = 0;
                  let e = 0;
                  for (let j = lo; j <= p; j++) {
                    const vo = ((b * nkv + g) * S + j) * D + d;
                    const pr = av[prow + j]!;
                    s += pr * c32[vo]!;
                    e += ea[prow + j]! * Math.abs(c32[vo]!) + (Math.abs(pr) + ea[prow + j]!) * ec[vo]!;
                  }
                  f[row + d] = s;
                  bnd[row + d] = e * (1 + 2 ** -20);
                }
              }
            }
          }
        out[op.name] = { output: outName, float: f, bound: bnd };
        break;
      }
      default:
        break; // softmax, rope, activation, add, mul: no quantisation of their own
    }
  }
  return out;
}

export interface Comparison {
  ok: boolean;
  /** Elements compared (where the bound is finite and the reference is finite). */
  count: number;
  /** Largest |actual - expected| / bound (0 when all equal). */
  maxRatio: number;
  /** The element with the largest ratio. */
  worst: { index: number; expected: number; actual: number; diff: number; bound: number } | null;
}

/** Check |actual - expected| <= bound elementwise (entries where expected is not finite are skipped). */
export function compareWithin(expected: ArrayLike<number>, actual: ArrayLike<number>, bound: ArrayLike<number>): Comparison {
  if (expected.length !== actual.length || expected.length !== bound.length) {
    throw new SfError(`compareWithin: lengths differ (${expected.length}, ${actual.length}, ${bound.length})`);
  }
  let ok = true;
  let count = 0;
  let maxRatio = 0;
  let worst: Comparison['worst'] = null;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (!Number.isFinite(e)) continue;
    count++;
    const diff = Math.abs(actual[i]! - e);
    const b = bound[i]!;
    const ratio = diff === 0 ? 0 : b > 0 ? diff / b : Infinity;
    if (!(diff <= b)) ok = false;
    if (ratio > maxRatio || Number.isNaN(diff)) {
      maxRatio = Number.isNaN(diff) ? Infinity : ratio;
      worst = { index: i, expected: e, actual: actual[i]!, diff, bound: b };
    }
  }
  return { ok, count, maxRatio, worst };
}

export interface OpCheck {
  op: string;
  output: string;
  comparison: Comparison;
}

/**
 * Check an implementation op by op: `actual` holds its tensors by graph name, in the layout
 * and representation of ReferenceResult.values (int8 tensors as codes plus "<name>.scale";
 * the caches [B, kv_heads, S, D] after the step; x and the RoPE tables as it used them). Each
 * op is evaluated by the reference on the implementation's own inputs, and the
 * implementation's output must lie within the op's local fp32 bound. Returns one entry per op
 * output (kv_append: both caches, new positions only mattering).
 */
export function checkOpByOp(result: ReferenceResult, actual: Record<string, Float64Array>): OpCheck[] {
  const { graph, weights } = result;
  for (const name of Object.keys(graph.tensors)) {
    if (!actual[name]) throw new SfError(`checkOpByOp: the implementation's tensor "${name}" is missing`);
  }
  const pseudo: ReferenceResult = { graph, weights, values: actual, accumulators: {} };
  const bounds = fp32ErrorBounds(pseudo, { local: true });
  const out: OpCheck[] = [];
  for (const op of graph.ops) {
    const env: Record<string, Float64Array> = {};
    for (const [k, v] of Object.entries(actual)) env[k] = v;
    env.k_cache = Float64Array.from(actual.k_cache!);
    env.v_cache = Float64Array.from(actual.v_cache!);
    evaluateOp(graph, weights, op, env);
    const expectedResult: ReferenceResult = { graph, weights, values: env, accumulators: {} };
    for (const t of op.outputs) {
      if (t.name.endsWith('.scale')) continue;
      const expected = tensorValues(expectedResult, t.name);
      const got = tensorValues(pseudo, t.name);
      out.push({ op: op.name, output: t.name, comparison: compareWithin(expected, got, bounds[t.name]!) });
    }
  }
  return out;
}
