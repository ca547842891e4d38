"""Workers: event loops that serve, and the supervisor that starts, restarts and replaces them.

One ``Worker`` runs on one loop; edges run workers as threads, processes or subinterpreters behind
one link (``link``); the supervisor plans, restarts (``restart_policy``) and hands over
generations. May import the edges, the bridge and the rooms below; never the reloader or the
server.
"""
