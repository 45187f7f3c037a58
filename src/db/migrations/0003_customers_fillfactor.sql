-- Leave room on each page so that a PATCH, which changes no indexed column, can be a HOT
-- update: the new row version stays on its page and no index entry is written.
alter table customers set (fillfactor = 70);
