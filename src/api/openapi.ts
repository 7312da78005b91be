/** OpenAPI helpers: the problem+json response shape for route definitions, and the /docs page. */
import { z } from 'zod';

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  field: z.string().optional(),
});

/** A response entry for a problem+json error. */
export function problemJson(description: string) {
  return { description, content: { 'application/problem+json': { schema: problemSchema } } };
}

/**
 * A self-contained API reference page (no CDN: self-hosted installs are often offline). It reads /openapi.json
 * and lists every operation with its parameters, body fields and responses.
 */
export const docsHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quorum API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:24px;color:#1d2430}
h1{margin:0 0 4px}.op{border:1px solid #d5dae3;border-radius:8px;margin:12px 0;padding:10px 14px}
.m{display:inline-block;min-width:64px;font-weight:700;text-transform:uppercase}.get{color:#1a7f37}.post{color:#0a58ca}
.delete{color:#b42318}.put{color:#9a6700}code,pre{font:13px ui-monospace,monospace;background:#f4f6f9;border-radius:4px}
pre{padding:8px;overflow:auto;max-height:320px}details summary{cursor:pointer;color:#445}
</style></head><body>
<h1>Quorum API</h1><p id="info">Loading <a href="/openapi.json">/openapi.json</a>…</p><div id="ops"></div>
<script>
fetch('/openapi.json').then(r=>r.json()).then(doc=>{
  document.getElementById('info').innerHTML=(doc.info.description||'')+' — version '+doc.info.version+
    '. Every /v1 route needs <code>Authorization: Bearer &lt;key&gt;</code>. Raw spec: <a href="/openapi.json">/openapi.json</a>.';
  const ops=document.getElementById('ops');
  const esc=s=>String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
  for(const [path,item] of Object.entries(doc.paths)) for(const [method,op] of Object.entries(item)){
    const d=document.createElement('div');d.className='op';
    const params=(op.parameters||[]).map(p=>'<code>'+esc(p.name)+'</code> ('+p.in+')').join(', ');
    const body=op.requestBody?'<details><summary>request body</summary><pre>'+esc(JSON.stringify(op.requestBody.content,null,2))+'</pre></details>':'';
    const res=Object.entries(op.responses||{}).map(([s,r])=>'<b>'+s+'</b> '+esc(r.description)).join(' · ');
    d.innerHTML='<span class="m '+method+'">'+method+'</span> <code>'+esc(path)+'</code><div>'+esc(op.summary||'')+'</div>'+
      (params?'<div>parameters: '+params+'</div>':'')+body+'<div>'+res+'</div>';
    ops.appendChild(d);
  }
});
</script></body></html>`;
