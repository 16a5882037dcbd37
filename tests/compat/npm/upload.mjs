// The documented Convex upload flow with the official client, against pyconvex:
// mutation -> upload URL; fetch POST of the bytes -> {storageId}; save; get_url; fetch.
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";

const url = process.argv[2];
const client = new ConvexHttpClient(url);
const out = {};
try {
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 256);
  const postUrl = await client.mutation(anyApi.files.generate_upload_url, {});
  const result = await fetch(postUrl, { method: "POST", headers: { "Content-Type": "image/png" }, body: bytes });
  const { storageId } = await result.json();
  out.storageId = storageId;
  await client.mutation(anyApi.files.save, { storageId, name: "pixel.png" });
  const fileUrl = await client.query(anyApi.files.url, { storageId });
  const download = await fetch(fileUrl);
  const got = new Uint8Array(await download.arrayBuffer());
  out.contentType = download.headers.get("content-type");
  out.same = got.length === bytes.length && got.every((b, i) => b === bytes[i]);
  const reused = await fetch(postUrl, { method: "POST", body: bytes });
  out.reusedStatus = reused.status;
} catch (e) {
  out.error = String(e && e.stack || e);
}
console.log(JSON.stringify(out));
