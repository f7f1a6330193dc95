-- `tikkitd held` lists messages kept without a request: held and refused.
DROP INDEX messages_held;
CREATE INDEX messages_kept ON messages(id) WHERE request_id IS NULL;
