"""The reference pages of two channels: the 122 operator's console (``/console``) and the infomat kiosk
(``/kiosk``). Plain HTML, CSS and ES modules served as they are (no build step); they speak only their
client's registered GraphQL documents (``graphql/callcentre/``, ``graphql/kiosk/``), sent by hash, with the
same tokens as any client."""
