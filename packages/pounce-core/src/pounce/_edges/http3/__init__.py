"""HTTP/3 over QUIC (GIL builds): the datagram endpoint; whether this interpreter may serve it."""
