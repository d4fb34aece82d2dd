"""The sans-I/O WebSocket core: frames, handshake, protocol state machine.

Nothing in this package imports trio, touches a socket or reads a clock, so it
can be tested byte for byte and reused under any I/O framework.
"""
