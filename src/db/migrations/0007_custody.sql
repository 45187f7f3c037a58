-- Custody (issue 4): one derived EVM address per customer, at a derivation index that is
-- never reused. One seed serves the installation, so indexes are unique across projects.
create sequence custody_derivation_index as integer minvalue 0 start 0;

create table customer_addresses (
  project_id        text not null,
  mode              text not null,
  customer_id       text not null,
  derivation_index  integer not null unique,
  address           text not null unique,
  created_at        timestamptz(3) not null,
  primary key (project_id, mode, customer_id),
  foreign key (project_id, mode, customer_id) references customers (project_id, mode, id)
);
