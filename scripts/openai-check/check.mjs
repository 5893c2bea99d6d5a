// The gateway through the official OpenAI client for Node, against the outputs of `seqctl generate`.
//   node check.mjs BASE_URL MODEL CASES.json
// CASES.json: [{"prompt", "greedy", "sampled"}]: seqctl generate's outputs, greedy and with the
// sampling below. Prints one line per check; exits 1 if any differs.
import OpenAI from 'openai';
import { readFileSync } from 'node:fs';

const [base, model, casesFile] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesFile, 'utf8'));
const SAMPLING = { temperature: 0.8, top_p: 0.9, seed: 7 };
const client = new OpenAI({ baseURL: base, apiKey: 'unused' });
let failed = 0;

function check(what, expected, got) {
  const ok = expected === got;
  if (!ok) failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${model} ${what}: ${JSON.stringify(got)}${ok ? '' : ` (expected ${JSON.stringify(expected)})`}`);
}

/** Server-sent events of a fetch response: {id, data}, until `limit` events (then the connection is dropped). */
async function events(resp, limit = Infinity) {
  const out = [];
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  while (out.length < limit) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0 && out.length < limit) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = {};
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) ev.id = line.slice(4);
        if (line.startsWith('data: ')) ev.data = line.slice(6);
      }
      if (ev.data !== undefined) out.push(ev);
    }
  }
  await reader.cancel().catch(() => {});
  return out;
}

const text = (ev) => (ev.data === '[DONE]' ? '' : JSON.parse(ev.data).choices[0]?.text ?? '');

for (const c of cases) {
  const greedy = await client.completions.create({ model, prompt: c.prompt, max_tokens: 64 });
  check(`greedy "${c.prompt}"`, c.greedy, greedy.choices[0].text);
  const sampled = await client.completions.create({ model, prompt: c.prompt, max_tokens: 64, ...SAMPLING });
  check(`sampled "${c.prompt}"`, c.sampled, sampled.choices[0].text);

  const stream = await client.completions.create({ model, prompt: c.prompt, max_tokens: 64, stream: true });
  let joined = '';
  for await (const chunk of stream) joined += chunk.choices[0]?.text ?? '';
  check(`streamed "${c.prompt}"`, c.greedy, joined);

  // drop the stream after k events, reconnect with Last-Event-ID: exactly the events after them
  const k = 3;
  const first = await events(await fetch(`${base}/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, prompt: c.prompt, max_tokens: 64, stream: true }),
  }), k);
  const id = JSON.parse(first[0].data).id;
  const rest = await events(await fetch(`${base}/completions/${id}/events`, { headers: { 'Last-Event-ID': first[k - 1].id } }));
  const restIds = rest.filter((e) => e.id).map((e) => Number(e.id.split('/')[1]));
  const contiguous = restIds.every((n, j) => n === k + j) && rest[rest.length - 1].data === '[DONE]';
  check(`resumed after ${k} events "${c.prompt}"`, c.greedy, first.map(text).join('') + rest.map(text).join('')
    + (contiguous ? '' : ` [event ids ${restIds.join(',')}]`));
}
console.log(failed === 0 ? `${model}: all checks passed` : `${model}: ${failed} checks failed`);
process.exit(failed === 0 ? 0 : 1);
