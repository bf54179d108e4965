# What the device-side checkers share (loaded with -f before
# nvme-trace-check.awk or lio-trace-check.awk): the expected pieces, and the
# pairing of what a device wrote with what it read.
#
# -v pieces holds one line per expected piece: "<a> slba <b> dlba nblocks"
# (<a>/<b>: the namespaces or LUNs of source and destination). A device's
# copy passes only if every extent it wrote lies in the expected
# destination blocks and was read from exactly the source block computed
# for it, no block is written twice, the blocks add up to the expected
# number, and every extent read was written.
function why(m) { if (bad == "") bad = m }
function pieces_load(text,    n, L, i, f) {
  n = split(text, L, "\n")
  for (i = 1; i <= n; i++) {
    if (split(L[i], f, " ") != 5) continue
    k++; pa[k] = f[1]; es[k] = f[2] + 0; pb[k] = f[3]; ed[k] = f[4] + 0; en[k] = f[5] + 0
    total += en[k]
  }
  if (k == 0) why("no piece expected")
}
function source_read(s, nl) { src[s " " nl]++; nreads++ }
function dest_written(d, nl,    j, hit, key) {
  nw++; blocks += nl; od[nw] = d; on[nw] = nl
  hit = 0
  for (j = 1; j <= k; j++) if (d >= ed[j] && d + nl <= ed[j] + en[j]) { hit = j; break }
  if (!hit) { why("destination " d "+" nl " written outside the expected destination blocks"); return }
  key = (es[hit] + d - ed[hit]) " " nl
  if (src[key] > 0) src[key]--
  else why("destination " d "+" nl " written with no read of " key)
}
function pairs_end(    a, b, key) {
  if (blocks != total) why(blocks " blocks written, " total " expected")
  for (a = 1; a <= nw; a++) for (b = a + 1; b <= nw; b++)
    if (od[a] < od[b] + on[b] && od[b] < od[a] + on[a]) why("destination blocks written twice: " od[a] "+" on[a] ", " od[b] "+" on[b])
  for (key in src) if (src[key] > 0) why("source " key " read and never written")
}
