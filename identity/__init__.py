"""Who a buyer is, as pure rules every layer may call: the ID-document and phone-number rules
(``idrules``), the checks on ID and face photos (``photos``), their translated messages
(``messages``), and valid test identities (``idgen``). No models, no app imports."""
