-- The proposed Edge schema (../shared/design/edge-data-model.md, section 12), reduced to the columns
-- edgesync reads, for the SQL Server integration tests. {schema} is replaced by a fresh schema per run.
-- Child tables carry their parent's key in their primary key: Change Tracking keeps only primary-key
-- columns of deleted rows.
CREATE TABLE {schema}.WhyIns (WhyInId int NOT NULL PRIMARY KEY, Description nvarchar(50) NOT NULL);
CREATE TABLE {schema}.Categories (CatId smallint NOT NULL PRIMARY KEY, Name nvarchar(50) NOT NULL);
CREATE TABLE {schema}.Customers (
  CustomerStoreId smallint NOT NULL, CustomerId int NOT NULL, AccountStoreId smallint NULL, AccountId int NULL,
  Title nvarchar(20) NULL, FirstName nvarchar(50) NOT NULL, MiddleName nvarchar(50) NULL, LastName nvarchar(50) NULL,
  Company nvarchar(100) NULL, Gender char(1) NULL, BirthMonth tinyint NULL, BirthDay tinyint NULL, BirthYear smallint NULL,
  AnnivMonth tinyint NULL, AnnivDay tinyint NULL, AnnivYear smallint NULL, AssociateId smallint NULL,
  AcquisitionWhyInId int NULL, Key1 nvarchar(255) NULL, Key2 nvarchar(255) NULL, Key3 nvarchar(255) NULL,
  Key4 nvarchar(255) NULL, Key5 nvarchar(255) NULL, Key6 nvarchar(255) NULL, Key7 nvarchar(255) NULL,
  Key8 nvarchar(255) NULL, SyncEnabled bit NOT NULL DEFAULT 1, Inactive bit NOT NULL DEFAULT 0,
  DateEntered datetime2 NOT NULL DEFAULT SYSUTCDATETIME(),
  CONSTRAINT PK_Customers PRIMARY KEY (CustomerStoreId, CustomerId));
CREATE TABLE {schema}.CustomerContactMethods (
  CustomerStoreId smallint NOT NULL, CustomerId int NOT NULL, ContactMethodId int IDENTITY(1,1) NOT NULL,
  Method varchar(8) NOT NULL, ContactType nvarchar(30) NULL, PhoneOrEmail nvarchar(255) NULL, Address1 nvarchar(100) NULL,
  Address2 nvarchar(100) NULL, City nvarchar(50) NULL, State nvarchar(20) NULL, PostalCode nvarchar(20) NULL,
  Country nvarchar(50) NULL, IsPreferred bit NOT NULL DEFAULT 0, CanText bit NOT NULL DEFAULT 0,
  OptedOut bit NOT NULL DEFAULT 0, Source varchar(12) NULL, Inactive bit NOT NULL DEFAULT 0,
  CONSTRAINT PK_CustomerContactMethods PRIMARY KEY (CustomerStoreId, CustomerId, ContactMethodId));
CREATE TABLE {schema}.WishListItems (
  CustomerStoreId smallint NOT NULL, CustomerId int NOT NULL, WishId int IDENTITY(1,1) NOT NULL, WishKind varchar(8) NOT NULL,
  ItemStoreId smallint NULL, CatId smallint NULL, StockNo int NULL, VendorId varchar(3) NULL, VendStyleCode nvarchar(50) NULL,
  ItemDesc nvarchar(255) NOT NULL, BuyFor nvarchar(50) NULL, EventDesc nvarchar(50) NULL, EventDate datetime2 NULL,
  AssociateId smallint NULL, DateEntered datetime2 NOT NULL DEFAULT SYSUTCDATETIME(), DateRemoved datetime2 NULL,
  Source varchar(12) NULL,
  CONSTRAINT PK_WishListItems PRIMARY KEY (CustomerStoreId, CustomerId, WishId));
CREATE TABLE {schema}.CustomerNotes (
  CustomerStoreId smallint NOT NULL, CustomerId int NOT NULL, NoteId int IDENTITY(1,1) NOT NULL, AssociateId smallint NULL,
  NoteDate datetime2 NOT NULL DEFAULT SYSUTCDATETIME(), NoteText nvarchar(max) NOT NULL, IsLocked bit NOT NULL DEFAULT 0,
  Source varchar(12) NULL,
  CONSTRAINT PK_CustomerNotes PRIMARY KEY (CustomerStoreId, CustomerId, NoteId));
CREATE TABLE {schema}.Sales (
  SaleStoreId smallint NOT NULL, SaleNo int NOT NULL, SaleDate datetime2 NOT NULL, CustomerStoreId smallint NULL,
  CustomerId int NULL, StationName nvarchar(30) NULL, Subtotal decimal(12,2) NOT NULL, TaxTotal decimal(12,2) NOT NULL,
  Total decimal(12,2) NOT NULL, IsVoid bit NOT NULL DEFAULT 0,
  CONSTRAINT PK_Sales PRIMARY KEY (SaleStoreId, SaleNo));
CREATE TABLE {schema}.SaleLines (
  SaleStoreId smallint NOT NULL, SaleNo int NOT NULL, [LineNo] smallint NOT NULL, LineType varchar(12) NOT NULL,
  ItemStoreId smallint NULL, CatId smallint NULL, StockNo int NULL, JobNo smallint NULL, Qty int NOT NULL,
  Amount decimal(12,2) NOT NULL, Descr nvarchar(max) NULL,
  CONSTRAINT PK_SaleLines PRIMARY KEY (SaleStoreId, SaleNo, [LineNo]));
CREATE TABLE {schema}.SaleAssociates (
  SaleStoreId smallint NOT NULL, SaleNo int NOT NULL, AssociateId smallint NOT NULL,
  CONSTRAINT PK_SaleAssociates PRIMARY KEY (SaleStoreId, SaleNo, AssociateId));
CREATE TABLE {schema}.Appointments (
  StoreId smallint NOT NULL, ApptId int IDENTITY(1,1) NOT NULL, ChainId int NULL, CustomerStoreId smallint NULL,
  CustomerId int NULL, AssociateId smallint NULL, ApptType varchar(20) NOT NULL, Descr nvarchar(100) NULL,
  Priority char(1) NULL, ContactVia varchar(8) NULL, BeginAt datetime2 NOT NULL, EndAt datetime2 NULL,
  Status varchar(10) NOT NULL, Result nvarchar(max) NULL, DateCreated datetime2 NOT NULL DEFAULT SYSUTCDATETIME(),
  CONSTRAINT PK_Appointments PRIMARY KEY (StoreId, ApptId));
CREATE TABLE {schema}.ServiceJobs (
  JobStoreId smallint NOT NULL, SaleNo int NOT NULL, JobNo smallint NOT NULL, JobType varchar(10) NOT NULL,
  CustomerStoreId smallint NULL, CustomerId int NULL, EnvelopeNo varchar(20) NULL, ItemDescription nvarchar(max) NULL,
  Summary nvarchar(255) NULL, DateEntered datetime2 NOT NULL, PromisedDate datetime2 NULL, Status varchar(10) NOT NULL,
  DateDone datetime2 NULL, DatePickedUp datetime2 NULL, EstimatedPrice decimal(12,2) NULL,
  CONSTRAINT PK_ServiceJobs PRIMARY KEY (JobStoreId, SaleNo, JobNo));
CREATE TABLE {schema}.ServiceJobHistory (
  JobStoreId smallint NOT NULL, SaleNo int NOT NULL, JobNo smallint NOT NULL, HistSeq int NOT NULL,
  ChangedAt datetime2 NOT NULL, FromStatus varchar(10) NULL, ToStatus varchar(10) NOT NULL,
  CONSTRAINT PK_ServiceJobHistory PRIMARY KEY (JobStoreId, SaleNo, JobNo, HistSeq));
CREATE TABLE {schema}.Items (
  ItemStoreId smallint NOT NULL, CatId smallint NOT NULL, StockNo int NOT NULL, VendorId varchar(3) NULL,
  VendStyleCode nvarchar(50) NULL, StockType varchar(12) NOT NULL, Status char(1) NOT NULL, Descr nvarchar(255) NOT NULL,
  RetailPrice decimal(12,2) NOT NULL, CurrentPrice decimal(12,2) NOT NULL, SoldToCustomerStoreId smallint NULL,
  SoldToCustomerId int NULL, SaleStoreId smallint NULL, SaleNo int NULL, DateStatusChanged datetime2 NOT NULL,
  CONSTRAINT PK_Items PRIMARY KEY (ItemStoreId, CatId, StockNo));
CREATE TABLE {schema}.Notifications (
  StoreId smallint NOT NULL, NotificationId bigint IDENTITY(1,1) NOT NULL, CustomerStoreId smallint NULL,
  CustomerId int NULL, Channel varchar(5) NOT NULL, Provider varchar(12) NOT NULL, ToAddress nvarchar(255) NOT NULL,
  Reason varchar(16) NULL, RelatedKey varchar(30) NULL, Subject nvarchar(255) NULL, Body nvarchar(max) NOT NULL,
  Status varchar(8) NOT NULL, QueuedAt datetime2 NOT NULL DEFAULT SYSUTCDATETIME(),
  CONSTRAINT PK_Notifications PRIMARY KEY (StoreId, NotificationId));
CREATE TABLE {schema}.CustomerActivity (
  ActivityId bigint IDENTITY(1,1) NOT NULL PRIMARY KEY, CustomerStoreId smallint NOT NULL, CustomerId int NOT NULL,
  ActivityDate datetime2 NOT NULL, Kind varchar(12) NOT NULL, Channel varchar(8) NULL, Direction varchar(8) NULL,
  Body nvarchar(max) NULL, Source varchar(12) NULL, ExternalId nvarchar(200) NULL);
