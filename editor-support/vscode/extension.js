// The VS Code side of Warden: starts `warden lsp` on stdio for `.warden` files.
// Everything else (diagnostics, formatting, hover, navigation) is the server's.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("warden").get("path") || "warden";
  const run = { command, args: ["lsp"], transport: TransportKind.stdio };
  client = new LanguageClient(
    "warden",
    "Warden",
    { run, debug: run },
    {
      documentSelector: [{ scheme: "file", language: "warden" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.warden") },
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
