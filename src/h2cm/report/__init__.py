"""The report: figures (:mod:`.figures`), the HTML page (:mod:`.html`, ``h2cm report``) and the
end-to-end demo (:mod:`.demo`, ``h2cm demo``)."""
