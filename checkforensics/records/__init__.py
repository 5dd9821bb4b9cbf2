"""Records: what commands report, declared once.

- ``values``: how each kind of value looks (address, size, time, severity, command line, long
  text): the JSON form and the table cell. The renderer's vocabulary; imports nothing.
- ``declare``: ``Field``, ``Column``, ``RecordType``, and the ``Answer`` an analysis hands the
  renderer.
- ``forms``: the JSON forms and text rows several commands share (an overview, a descriptor
  table, a memory match) that are not declared record types yet.
"""
