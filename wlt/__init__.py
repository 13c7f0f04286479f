"""The card photo format (WLT): an optional adapter for the customer's vendor decoder.

A neutral package that both sides use: the terminal (the front-desk page shows the card's photo)
and the central server (the police stay page does). It knows nothing of serial ports,
registrations, SQLite or HTTP, and imports only the standard library and Pillow:

    errors.py   PhotoDecoderError
    decoder.py  WltDecoder: a ctypes-loaded vendor library, guarded; BMP -> PNG
"""
