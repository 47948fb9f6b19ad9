; Inno Setup script (6.2 or newer): the Windows 10/11 installer of 民生实事台账.
; Build the PyInstaller bundle first (on Windows: python packaging\build.py --no-deb),
; then compile this file with Inno Setup's ISCC:  ISCC packaging\windows\minsheng.iss
; The installer is written to dist\ .

#define AppName "民生实事台账"
#define AppVersion "0.1.0"
#define AppExe "minsheng.exe"

[Setup]
AppId={{6F1C3A52-3F0E-4B8E-9D0A-2F4B7C9E1A43}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=大通湖区民政人社局
DefaultDirName={autopf}\MinshengTaizhang
DefaultGroupName={#AppName}
OutputDir=..\..\dist
OutputBaseFilename=民生实事台账-{#AppVersion}-安装程序
SetupIconFile=..\..\resources\icons\app.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
; The ledgers live in the user's data folder (%LOCALAPPDATA%\minsheng-taizhang) or a
; folder chosen at setup, never under {app}: uninstalling or upgrading leaves them alone.

[Languages]
Name: "chinesesimp"; MessagesFile: "compiler:Languages\ChineseSimplified.isl"

[Tasks]
Name: "desktopicon"; Description: "在桌面创建快捷方式"; GroupDescription: "快捷方式："

[Files]
Source: "..\..\dist\minsheng\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\{#AppName} 自检"; Filename: "{cmd}"; Parameters: "/k ""{app}\minsheng-cli.exe"" --selftest"
Name: "{group}\卸载 {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "现在打开 {#AppName}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; only the program folder; the data folder is never listed here
Type: filesandordirs; Name: "{app}\_internal\__pycache__"
