"""What the broker and the channels share to deliver from the event log: the durable
consumer (:mod:`.consumer`), the delivery memory budget (:mod:`.budget`) and the record
layout (:mod:`.envelope`). Below :mod:`kawa.broker` and :mod:`kawa.channels`, above the event
log and the delivery sender."""
