/**
 * Namespaces and who may act on them: users/organizations/robots (all in "user"),
 * teams, federated logins, robot tokens, app-specific tokens, OAuth, service keys and
 * user notifications. Needs the lookup tables.
 */

/** DDL of the account tables, in dependency order. */
export const ACCOUNT_TABLES: readonly string[] = [
  `CREATE TABLE "user" (
    id SERIAL NOT NULL,
    uuid VARCHAR(36),
    username VARCHAR(255) NOT NULL,
    password_hash VARCHAR(255),
    email VARCHAR(255) NOT NULL,
    verified BOOLEAN NOT NULL,
    stripe_id VARCHAR(255),
    organization BOOLEAN NOT NULL,
    robot BOOLEAN NOT NULL,
    invoice_email BOOLEAN NOT NULL,
    invalid_login_attempts INTEGER DEFAULT 0 NOT NULL,
    last_invalid_login TIMESTAMP NOT NULL,
    removed_tag_expiration_s BIGINT DEFAULT 1209600 NOT NULL,
    enabled BOOLEAN DEFAULT true NOT NULL,
    invoice_email_address VARCHAR(255),
    company VARCHAR(255),
    family_name VARCHAR(255),
    given_name VARCHAR(255),
    location VARCHAR(255),
    maximum_queued_builds_count INTEGER,
    creation_date TIMESTAMP,
    last_accessed TIMESTAMP,
    CONSTRAINT pk_user PRIMARY KEY (id)
  )`,
  `CREATE INDEX user_invoice_email_address ON "user" (invoice_email_address)`,
  `CREATE INDEX user_organization ON "user" (organization)`,
  `CREATE INDEX user_robot ON "user" (robot)`,
  `CREATE INDEX user_stripe_id ON "user" (stripe_id)`,
  `CREATE UNIQUE INDEX user_username ON "user" (username)`,
  `CREATE INDEX user_uuid ON "user" (uuid)`,
  `CREATE INDEX user_last_accessed ON "user" (last_accessed)`,
  // b1a79fa8e630: organizations may share an e-mail; everyone else may not.
  `CREATE UNIQUE INDEX user_email_unique_non_org ON "user" (email) WHERE organization = false`,
  `CREATE INDEX user_email_idx ON "user" (email)`,

  `CREATE TABLE emailconfirmation (
    id SERIAL NOT NULL,
    code VARCHAR(255) NOT NULL,
    user_id INTEGER NOT NULL,
    pw_reset BOOLEAN NOT NULL,
    new_email VARCHAR(255),
    email_confirm BOOLEAN NOT NULL,
    created TIMESTAMP NOT NULL,
    verification_code VARCHAR(255),
    CONSTRAINT pk_emailconfirmation PRIMARY KEY (id),
    CONSTRAINT fk_emailconfirmation_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX emailconfirmation_code ON emailconfirmation (code)`,
  `CREATE INDEX emailconfirmation_user_id ON emailconfirmation (user_id)`,

  `CREATE TABLE federatedlogin (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    service_id INTEGER NOT NULL,
    service_ident VARCHAR(255) NOT NULL,
    metadata_json TEXT NOT NULL,
    CONSTRAINT pk_federatedlogin PRIMARY KEY (id),
    CONSTRAINT fk_federatedlogin_service_id_loginservice FOREIGN KEY (service_id) REFERENCES loginservice (id),
    CONSTRAINT fk_federatedlogin_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX federatedlogin_service_id ON federatedlogin (service_id)`,
  `CREATE UNIQUE INDEX federatedlogin_service_id_service_ident ON federatedlogin (service_id, service_ident)`,
  `CREATE UNIQUE INDEX federatedlogin_service_id_user_id ON federatedlogin (service_id, user_id)`,
  `CREATE INDEX federatedlogin_user_id ON federatedlogin (user_id)`,

  `CREATE TABLE robotaccountmetadata (
    id SERIAL NOT NULL,
    robot_account_id INTEGER NOT NULL,
    description VARCHAR(255) NOT NULL,
    unstructured_json TEXT NOT NULL,
    CONSTRAINT pk_robotaccountmetadata PRIMARY KEY (id),
    CONSTRAINT fk_robotaccountmetadata_robot_account_id_user FOREIGN KEY (robot_account_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX robotaccountmetadata_robot_account_id ON robotaccountmetadata (robot_account_id)`,

  `CREATE TABLE robotaccounttoken (
    id SERIAL NOT NULL,
    robot_account_id INTEGER NOT NULL,
    token VARCHAR(255) NOT NULL,
    fully_migrated BOOLEAN DEFAULT false NOT NULL,
    CONSTRAINT pk_robotaccounttoken PRIMARY KEY (id),
    CONSTRAINT fk_robotaccounttoken_robot_account_id_user FOREIGN KEY (robot_account_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX robotaccounttoken_robot_account_id ON robotaccounttoken (robot_account_id)`,

  `CREATE TABLE team (
    id SERIAL NOT NULL,
    name VARCHAR(255) NOT NULL,
    organization_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    description TEXT NOT NULL,
    CONSTRAINT pk_team PRIMARY KEY (id),
    CONSTRAINT fk_team_organization_id_user FOREIGN KEY (organization_id) REFERENCES "user" (id),
    CONSTRAINT fk_team_role_id_teamrole FOREIGN KEY (role_id) REFERENCES teamrole (id)
  )`,
  `CREATE INDEX team_name ON team (name)`,
  `CREATE UNIQUE INDEX team_name_organization_id ON team (name, organization_id)`,
  `CREATE INDEX team_organization_id ON team (organization_id)`,
  `CREATE INDEX team_role_id ON team (role_id)`,

  `CREATE TABLE teammember (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    team_id INTEGER NOT NULL,
    CONSTRAINT pk_teammember PRIMARY KEY (id),
    CONSTRAINT fk_teammember_team_id_team FOREIGN KEY (team_id) REFERENCES team (id),
    CONSTRAINT fk_teammember_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX teammember_team_id ON teammember (team_id)`,
  `CREATE INDEX teammember_user_id ON teammember (user_id)`,
  `CREATE UNIQUE INDEX teammember_user_id_team_id ON teammember (user_id, team_id)`,

  `CREATE TABLE teammemberinvite (
    id SERIAL NOT NULL,
    user_id INTEGER,
    email VARCHAR(255),
    team_id INTEGER NOT NULL,
    inviter_id INTEGER NOT NULL,
    invite_token VARCHAR(255) NOT NULL,
    CONSTRAINT pk_teammemberinvite PRIMARY KEY (id),
    CONSTRAINT fk_teammemberinvite_inviter_id_user FOREIGN KEY (inviter_id) REFERENCES "user" (id),
    CONSTRAINT fk_teammemberinvite_team_id_team FOREIGN KEY (team_id) REFERENCES team (id),
    CONSTRAINT fk_teammemberinvite_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX teammemberinvite_inviter_id ON teammemberinvite (inviter_id)`,
  `CREATE INDEX teammemberinvite_team_id ON teammemberinvite (team_id)`,
  `CREATE INDEX teammemberinvite_user_id ON teammemberinvite (user_id)`,

  `CREATE TABLE teamsync (
    id SERIAL NOT NULL,
    team_id INTEGER NOT NULL,
    transaction_id VARCHAR(255) NOT NULL,
    last_updated TIMESTAMP,
    service_id INTEGER NOT NULL,
    config TEXT NOT NULL,
    CONSTRAINT pk_teamsync PRIMARY KEY (id),
    CONSTRAINT fk_teamsync_service_id_loginservice FOREIGN KEY (service_id) REFERENCES loginservice (id),
    CONSTRAINT fk_teamsync_team_id_team FOREIGN KEY (team_id) REFERENCES team (id)
  )`,
  `CREATE INDEX teamsync_last_updated ON teamsync (last_updated)`,
  `CREATE INDEX teamsync_service_id ON teamsync (service_id)`,
  `CREATE UNIQUE INDEX teamsync_team_id ON teamsync (team_id)`,

  `CREATE TABLE permissionprototype (
    id SERIAL NOT NULL,
    org_id INTEGER NOT NULL,
    uuid VARCHAR(255) NOT NULL,
    activating_user_id INTEGER,
    delegate_user_id INTEGER,
    delegate_team_id INTEGER,
    role_id INTEGER NOT NULL,
    CONSTRAINT pk_permissionprototype PRIMARY KEY (id),
    CONSTRAINT fk_permissionprototype_activating_user_id_user FOREIGN KEY (activating_user_id) REFERENCES "user" (id),
    CONSTRAINT fk_permissionprototype_delegate_team_id_team FOREIGN KEY (delegate_team_id) REFERENCES team (id),
    CONSTRAINT fk_permissionprototype_delegate_user_id_user FOREIGN KEY (delegate_user_id) REFERENCES "user" (id),
    CONSTRAINT fk_permissionprototype_org_id_user FOREIGN KEY (org_id) REFERENCES "user" (id),
    CONSTRAINT fk_permissionprototype_role_id_role FOREIGN KEY (role_id) REFERENCES role (id)
  )`,
  `CREATE INDEX permissionprototype_activating_user_id ON permissionprototype (activating_user_id)`,
  `CREATE INDEX permissionprototype_delegate_team_id ON permissionprototype (delegate_team_id)`,
  `CREATE INDEX permissionprototype_delegate_user_id ON permissionprototype (delegate_user_id)`,
  `CREATE INDEX permissionprototype_org_id ON permissionprototype (org_id)`,
  `CREATE INDEX permissionprototype_org_id_activating_user_id ON permissionprototype (org_id, activating_user_id)`,
  `CREATE INDEX permissionprototype_role_id ON permissionprototype (role_id)`,
  `CREATE INDEX permissionprototype_uuid ON permissionprototype (uuid)`,

  `CREATE TABLE userregion (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    location_id INTEGER NOT NULL,
    CONSTRAINT pk_userregion PRIMARY KEY (id),
    CONSTRAINT fk_userregion_location_id_imagestoragelocation FOREIGN KEY (location_id) REFERENCES imagestoragelocation (id),
    CONSTRAINT fk_userregion_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX userregion_location_id ON userregion (location_id)`,
  `CREATE INDEX userregion_user_id ON userregion (user_id)`,

  `CREATE TABLE userprompt (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    kind_id INTEGER NOT NULL,
    CONSTRAINT pk_userprompt PRIMARY KEY (id),
    CONSTRAINT fk_userprompt_kind_id_userpromptkind FOREIGN KEY (kind_id) REFERENCES userpromptkind (id),
    CONSTRAINT fk_userprompt_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX userprompt_kind_id ON userprompt (kind_id)`,
  `CREATE INDEX userprompt_user_id ON userprompt (user_id)`,
  `CREATE UNIQUE INDEX userprompt_user_id_kind_id ON userprompt (user_id, kind_id)`,

  `CREATE TABLE deletednamespace (
    id SERIAL NOT NULL,
    namespace_id INTEGER NOT NULL,
    marked TIMESTAMP NOT NULL,
    original_username VARCHAR(255) NOT NULL,
    original_email VARCHAR(255) NOT NULL,
    queue_id VARCHAR(255),
    CONSTRAINT pk_deletednamespace PRIMARY KEY (id),
    CONSTRAINT fk_deletednamespace_namespace_id_user FOREIGN KEY (namespace_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX deletednamespace_namespace_id ON deletednamespace (namespace_id)`,
  `CREATE INDEX deletednamespace_original_email ON deletednamespace (original_email)`,
  `CREATE INDEX deletednamespace_original_username ON deletednamespace (original_username)`,
  `CREATE INDEX deletednamespace_queue_id ON deletednamespace (queue_id)`,

  `CREATE TABLE organizationcontactemail (
    id SERIAL NOT NULL,
    organization_id INTEGER NOT NULL,
    contact_email VARCHAR(255),
    CONSTRAINT pk_organizationcontactemail PRIMARY KEY (id),
    CONSTRAINT fk_organizationcontactemail_organization_id_user FOREIGN KEY (organization_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX organizationcontactemail_organization_id ON organizationcontactemail (organization_id)`,
  `CREATE INDEX organizationcontactemail_contact_email ON organizationcontactemail (contact_email)`,

  `CREATE TABLE appspecificauthtoken (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    uuid VARCHAR(36) NOT NULL,
    title VARCHAR(255) NOT NULL,
    created TIMESTAMP NOT NULL,
    expiration TIMESTAMP,
    last_accessed TIMESTAMP,
    token_name VARCHAR(255) NOT NULL,
    token_secret VARCHAR(255) NOT NULL,
    CONSTRAINT pk_appspecificauthtoken PRIMARY KEY (id),
    CONSTRAINT fk_appspecificauthtoken_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX appspecificauthtoken_token_name ON appspecificauthtoken (token_name)`,
  `CREATE INDEX appspecificauthtoken_user_id ON appspecificauthtoken (user_id)`,
  `CREATE INDEX appspecificauthtoken_uuid ON appspecificauthtoken (uuid)`,
  `CREATE INDEX appspecificauthtoken_user_id_expiration ON appspecificauthtoken (user_id, expiration)`,

  `CREATE TABLE oauthapplication (
    id SERIAL NOT NULL,
    client_id VARCHAR(255) NOT NULL,
    redirect_uri VARCHAR(255) NOT NULL,
    application_uri VARCHAR(255) NOT NULL,
    organization_id INTEGER NOT NULL,
    name VARCHAR(255) NOT NULL,
    description TEXT NOT NULL,
    gravatar_email VARCHAR(255),
    secure_client_secret VARCHAR(255),
    fully_migrated BOOLEAN DEFAULT false NOT NULL,
    CONSTRAINT pk_oauthapplication PRIMARY KEY (id),
    CONSTRAINT fk_oauthapplication_organization_id_user FOREIGN KEY (organization_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX oauthapplication_client_id ON oauthapplication (client_id)`,
  `CREATE INDEX oauthapplication_organization_id ON oauthapplication (organization_id)`,

  `CREATE TABLE oauthaccesstoken (
    id SERIAL NOT NULL,
    uuid VARCHAR(255) NOT NULL,
    application_id INTEGER NOT NULL,
    authorized_user_id INTEGER NOT NULL,
    scope VARCHAR(255) NOT NULL,
    token_type VARCHAR(255) NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    data TEXT NOT NULL,
    token_code VARCHAR(255) NOT NULL,
    token_name VARCHAR(255) NOT NULL,
    last_accessed TIMESTAMP,
    created TIMESTAMP,
    display_name VARCHAR(255),
    CONSTRAINT pk_oauthaccesstoken PRIMARY KEY (id),
    CONSTRAINT fk_oauthaccesstoken_application_id_oauthapplication FOREIGN KEY (application_id) REFERENCES oauthapplication (id),
    CONSTRAINT fk_oauthaccesstoken_authorized_user_id_user FOREIGN KEY (authorized_user_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX oauthaccesstoken_uuid ON oauthaccesstoken (uuid)`,
  `CREATE INDEX oauthaccesstoken_authorized_user_id ON oauthaccesstoken (authorized_user_id)`,
  `CREATE INDEX oauthaccesstoken_application_id ON oauthaccesstoken (application_id)`,
  `CREATE UNIQUE INDEX oauthaccesstoken_token_name ON oauthaccesstoken (token_name)`,
  `CREATE INDEX oauthaccesstoken_application_id_last_accessed ON oauthaccesstoken (application_id, last_accessed)`,

  `CREATE TABLE oauthauthorizationcode (
    id SERIAL NOT NULL,
    application_id INTEGER NOT NULL,
    scope VARCHAR(255) NOT NULL,
    data TEXT NOT NULL,
    code_credential VARCHAR(255) NOT NULL,
    code_name VARCHAR(255) NOT NULL,
    CONSTRAINT pk_oauthauthorizationcode PRIMARY KEY (id),
    CONSTRAINT fk_oauthauthorizationcode_application_id_oauthapplication FOREIGN KEY (application_id) REFERENCES oauthapplication (id)
  )`,
  `CREATE INDEX oauthauthorizationcode_application_id ON oauthauthorizationcode (application_id)`,
  `CREATE UNIQUE INDEX oauthauthorizationcode_code_name ON oauthauthorizationcode (code_name)`,

  `CREATE TABLE oauthassignedtoken (
    id SERIAL NOT NULL,
    uuid VARCHAR(255) NOT NULL,
    assigned_user_id INTEGER NOT NULL,
    application_id INTEGER NOT NULL,
    redirect_uri VARCHAR(255),
    scope VARCHAR(255) NOT NULL,
    response_type VARCHAR(255),
    CONSTRAINT pk_oauthassignedtoken PRIMARY KEY (id),
    CONSTRAINT fk_oauthassignedtoken_application_oauthapplication FOREIGN KEY (application_id) REFERENCES oauthapplication (id),
    CONSTRAINT fk_oauthassignedtoken_assigned_user_user FOREIGN KEY (assigned_user_id) REFERENCES "user" (id)
  )`,
  `CREATE UNIQUE INDEX oauthassignedtoken_uuid ON oauthassignedtoken (uuid)`,
  `CREATE INDEX oauthassignedtoken_application_id ON oauthassignedtoken (application_id)`,
  `CREATE INDEX oauthassignedtoken_assigned_user ON oauthassignedtoken (assigned_user_id)`,

  // approver_id has an index but, as in Quay, no foreign key.
  `CREATE TABLE servicekeyapproval (
    id SERIAL NOT NULL,
    approver_id INTEGER,
    approval_type VARCHAR(255) NOT NULL,
    approved_date TIMESTAMP NOT NULL,
    notes TEXT NOT NULL,
    CONSTRAINT pk_servicekeyapproval PRIMARY KEY (id)
  )`,
  `CREATE INDEX servicekeyapproval_approval_type ON servicekeyapproval (approval_type)`,
  `CREATE INDEX servicekeyapproval_approver_id ON servicekeyapproval (approver_id)`,

  `CREATE TABLE servicekey (
    id SERIAL NOT NULL,
    name VARCHAR(255) NOT NULL,
    kid VARCHAR(255) NOT NULL,
    service VARCHAR(255) NOT NULL,
    jwk TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_date TIMESTAMP NOT NULL,
    expiration_date TIMESTAMP,
    rotation_duration INTEGER,
    approval_id INTEGER,
    CONSTRAINT pk_servicekey PRIMARY KEY (id),
    CONSTRAINT fk_servicekey_approval_id_servicekeyapproval FOREIGN KEY (approval_id) REFERENCES servicekeyapproval (id)
  )`,
  `CREATE INDEX servicekey_approval_id ON servicekey (approval_id)`,
  `CREATE UNIQUE INDEX servicekey_kid ON servicekey (kid)`,
  `CREATE INDEX servicekey_service ON servicekey (service)`,

  `CREATE TABLE notification (
    id SERIAL NOT NULL,
    uuid VARCHAR(255) NOT NULL,
    kind_id INTEGER NOT NULL,
    target_id INTEGER NOT NULL,
    metadata_json TEXT NOT NULL,
    created TIMESTAMP NOT NULL,
    dismissed BOOLEAN NOT NULL,
    lookup_path VARCHAR(255),
    CONSTRAINT pk_notification PRIMARY KEY (id),
    CONSTRAINT fk_notification_kind_id_notificationkind FOREIGN KEY (kind_id) REFERENCES notificationkind (id),
    CONSTRAINT fk_notification_target_id_user FOREIGN KEY (target_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX notification_created ON notification (created)`,
  `CREATE INDEX notification_kind_id ON notification (kind_id)`,
  `CREATE INDEX notification_lookup_path ON notification (lookup_path)`,
  `CREATE INDEX notification_target_id ON notification (target_id)`,
  `CREATE INDEX notification_uuid ON notification (uuid)`,

  `CREATE TABLE redhatsubscriptions (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    account_number INTEGER NOT NULL,
    CONSTRAINT pk_redhatsubscriptions PRIMARY KEY (id),
    CONSTRAINT fk_redhatsubscriptions FOREIGN KEY (user_id) REFERENCES "user" (id)
  )`,

  `CREATE TABLE organizationrhskus (
    id SERIAL NOT NULL,
    subscription_id INTEGER NOT NULL,
    org_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    quantity INTEGER,
    CONSTRAINT pk_organizationrhskus PRIMARY KEY (id),
    CONSTRAINT fk_organizationrhskus_userid FOREIGN KEY (user_id) REFERENCES "user" (id),
    CONSTRAINT fk_organizationrhskus_orgid FOREIGN KEY (org_id) REFERENCES "user" (id)
  )`,
  `CREATE INDEX organizationrhskus_subscription_id ON organizationrhskus (subscription_id)`,
  `CREATE UNIQUE INDEX organizationrhskus_subscription_id_org_id ON organizationrhskus (subscription_id, org_id)`,
  `CREATE UNIQUE INDEX organizationrhskus_subscription_id_org_id_user_id ON organizationrhskus (subscription_id, org_id, user_id)`,
];
