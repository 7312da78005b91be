/** A minimal server-sent-events reader over fetch, for the demo's progress bars. */
export interface SseEvent {
  event: string;
  data: string;
}

/** Yields each event of an event stream as it arrives. */
export async function* readSse(url: string, headers: Record<string, string>): AsyncGenerator<SseEvent> {
  const res = await fetch(url, { headers });
  if (!res.ok || !res.body) throw new Error(`event stream ${url}: ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      yield { event, data };
    }
  }
}
