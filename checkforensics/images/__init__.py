"""CRIU image decoding: framing, the magic table, protobuf messages and crit's JSON form."""
