@echo off
rem Copies the exposed shadow copies (P: is C:, Q: is D:) to the folder "backup" on the host.
rem Upload it to the lab machine first:
rem   vsssim fs put backupscript.cmd C:\diskshadowdata\backupscript.cmd
mkdir backup
xcopy p:\KvStore backup\C\KvStore /s /i /y
xcopy p:\Share backup\C\Share /s /i /y
xcopy q:\ backup\D /s /i /y
echo Copied the shadow copies of %COMPUTERNAME% (set %VSS_SHADOW_SET%).
